//! The legacy searches (`/api/search/artifact|prop|usage|dates|creation`). Cases look for what they
//! deployed under the run prefix, so other content on a live target does not disturb them.
//! Expectations: the API document (SEARCHES) and behaviour §8.

use serde_json::{json, Value};

use crate::case::{expect_text, replaced, Case, CaseFuture, Ctx, Response};
use crate::{check, Failure};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("search/quick/by-name", quick)
            .covers(["search.artifact"])
            .writes()
            .spec("jcr-rest-api.txt Artifact Search (Quick Search); behaviour §8"),
        Case::new("search/prop/by-property", prop)
            .covers(["search.prop"])
            .writes()
            .spec("jcr-rest-api.txt Property Search; behaviour §8"),
        Case::new("search/aql/items", aql)
            .covers(["search.aql"])
            .writes()
            .spec("jcr-rest-api.txt Artifactory Query Language; behaviour §9.1–9.6; Artifactory OSS AqlIncludeServiceTest"),
        Case::new("search/aql/grammar-quirks", aql_quirks)
            .covers(["search.aql"])
            .writes()
            .spec("behaviour §1 (AQL dates: dateOptionalTimeParser), §9.3, §9.6; Artifactory OSS AqlPropertyOrientedSearchesTest, AqlItemTypeTest"),
        Case::new("search/aql/properties-and-stats-domains", aql_domains)
            .covers(["search.aql"])
            .writes()
            .admin()
            .spec("jcr-rest-api.txt Artifactory Query Language (domains, include, distinct); behaviour §9.2–9.6"),
        Case::new("search/aql/build-domains", aql_builds)
            .covers(["search.aql"])
            .admin()
            .spec("jcr-rest-api.txt Artifactory Query Language (builds domains); behaviour §9.2, §9.3"),
        Case::new("search/archive/entries", archive)
            .covers(["search.archive"])
            .writes()
            .spec("jcr-rest-api.txt Archive Entries Search (Class Search); behaviour §8"),
        Case::new("search/dates/created-modified-downloaded", dates)
            .covers(["search.creation", "search.dates", "search.usage"])
            .writes()
            .spec("jcr-rest-api.txt Artifacts Created in Date Range, With Date in Date Range, Not Downloaded Since; behaviour §8"),
    ]
}

/// The `uri`s of a result list that lie under the run prefix.
fn ours(c: &Ctx, r: &Response) -> Result<Vec<String>, Failure> {
    r.expect_status(200)?;
    let v = r.json()?;
    let rows = v["results"]
        .as_array()
        .ok_or_else(|| Failure::Fail(format!("no results array: {v}")))?;
    let mine = format!("/api/storage/{}/{}/", c.repo, c.prefix);
    Ok(rows
        .iter()
        .filter_map(|x| x["uri"].as_str())
        .filter(|u| u.contains(&mine))
        .map(|u| u.rsplit('/').next().unwrap_or("").to_string())
        .collect())
}

/// A search answer narrowed to the rows whose `uri` ends with `suffix` (the repository holds what
/// other cases deployed too).
fn only_rows_ending(v: &Value, suffix: &str) -> Value {
    let mut v = v.clone();
    if let Some(rows) = v["results"].as_array_mut() {
        rows.retain(|x| x["uri"].as_str().is_some_and(|u| u.ends_with(suffix)));
    }
    v
}

fn quick(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let token = format!("q{}", c.seed % 1_000_000);
        c.deploy(
            &c.path(&format!("search/{token}-one.jar;flavour=plain")),
            b"1",
        )
        .await?;
        c.deploy(&c.path(&format!("search/{token}-two.pom")), b"2")
            .await?;
        let r = c
            .send(c.req(
                "GET",
                &format!("api/search/artifact?name={token}&repos={}", c.repo),
            ))
            .await?;
        r.expect_content_type(
            "application/vnd.org.jfrog.artifactory.search.ArtifactSearchResult+json",
        )?;
        c.snap_body(
            "search.artifact",
            None,
            &r,
            &replaced(&r.json()?, &token, "<seeded>"),
        )?;
        let mut found = ours(&c, &r)?;
        found.sort();
        check!(
            found == [format!("{token}-one.jar"), format!("{token}-two.pom")],
            "quick search found {found:?}"
        );
        let r = c
            .send(
                c.req(
                    "GET",
                    &format!("api/search/artifact?name={token}-one*&repos={}", c.repo),
                )
                .header("X-Result-Detail", "properties"),
            )
            .await?;
        r.expect_status(200)?;
        let rows: Vec<Value> = r.json()?["results"].as_array().cloned().unwrap_or_default();
        check!(
            rows.len() == 1 && rows[0]["properties"] == json!({"flavour": ["plain"]}),
            "X-Result-Detail: properties gave {rows:?}"
        );
        let r = c
            .send(c.req(
                "GET",
                &format!(
                    "api/search/artifact?name={token}-none-such&repos={}",
                    c.repo
                ),
            ))
            .await?;
        r.expect_status(200)?;
        check!(r.json()? == json!({"results": []}), "no hits: {}", r.text());
        let r = c.send(c.req("GET", "api/search/artifact?name=")).await?;
        expect_text(&r, 400, "The search term cannot be empty")?;
        c.snap("search.artifact", &r)
    })
}

fn prop(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let key = format!("conf{}", c.seed % 1_000_000);
        c.deploy(&c.path(&format!("props/a.txt;{key}=red")), b"a")
            .await?;
        c.deploy(&c.path(&format!("props/b.txt;{key}=blue")), b"b")
            .await?;
        let r = c
            .send(c.req(
                "GET",
                &format!("api/search/prop?{key}=red&repos={}", c.repo),
            ))
            .await?;
        r.expect_content_type(
            "application/vnd.org.jfrog.artifactory.search.MetadataSearchResult+json",
        )?;
        c.snap("search.prop", &r)?;
        check!(
            ours(&c, &r)? == ["a.txt"],
            "prop search found {:?}",
            ours(&c, &r)?
        );
        let r = c
            .send(c.req(
                "GET",
                &format!("api/search/prop?{key}=red,blue&repos={}", c.repo),
            ))
            .await?;
        check!(ours(&c, &r)?.len() == 2, "two values: {}", r.text());
        let r = c
            .send(c.req(
                "GET",
                &format!("api/search/prop?{key}=green&repos={}", c.repo),
            ))
            .await?;
        r.expect_status(200)?;
        check!(r.json()? == json!({"results": []}), "no hits: {}", r.text());
        let r = c.send(c.req("GET", "api/search/prop")).await?;
        r.expect_rest_error(404, "No results found.")?;
        c.snap("search.prop", &r)
    })
}

fn dates(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let created = c.deploy(&c.path("dates/d.txt"), b"d").await?;
        let at = created["created"].as_str().unwrap_or("").to_string();
        let r = c
            .send(c.req(
                "GET",
                &format!("api/search/creation?from={at}&repos={}", c.repo),
            ))
            .await?;
        r.expect_content_type(
            "application/vnd.org.jfrog.artifactory.search.ArtifactCreationResult+json",
        )?;
        c.snap_body(
            "search.creation",
            None,
            &r,
            &only_rows_ending(&r.json()?, "/dates/d.txt"),
        )?;
        check!(
            ours(&c, &r)?.contains(&"d.txt".to_string()),
            "creation search: {}",
            r.text()
        );
        let r = c
            .send(c.req(
                "GET",
                &format!(
                    "api/search/dates?from={at}&dateFields=created&repos={}",
                    c.repo
                ),
            ))
            .await?;
        r.expect_content_type("application/vnd.org.jfrog.artifactory.search.ArtifactResult+json")?;
        c.snap_body(
            "search.dates",
            None,
            &r,
            &only_rows_ending(&r.json()?, "/dates/d.txt"),
        )?;
        let rows: Vec<Value> = r.json()?["results"].as_array().cloned().unwrap_or_default();
        check!(
            rows.iter().any(|x| x["uri"]
                .as_str()
                .is_some_and(|u| u.ends_with("/dates/d.txt"))
                && x["created"] == json!(at)),
            "dates search: {rows:?}"
        );
        // Far in the future: nothing, which these searches answer with a 404.
        let r = c
            .send(c.req(
                "GET",
                &format!("api/search/creation?from=4102444800000&repos={}", c.repo),
            ))
            .await?;
        r.expect_rest_error(404, "No results found.")?;
        c.snap("search.creation", &r)?;
        let r = c.send(c.req("GET", "api/search/creation")).await?;
        r.expect_rest_error(400, "'from' parameter cannot be empty!")?;
        c.snap("search.creation", &r)?;
        let r = c.send(c.req("GET", "api/search/dates?from=1")).await?;
        r.expect_rest_error(400, "'dateFields' parameter cannot be empty!")?;
        c.snap("search.dates", &r)?;
        let r = c
            .send(c.req(
                "GET",
                &format!(
                    "api/search/usage?notUsedSince=4102444800000&repos={}",
                    c.repo
                ),
            ))
            .await?;
        r.expect_content_type(
            "application/vnd.org.jfrog.artifactory.search.ArtifactUsageResult+json",
        )?;
        c.snap_body(
            "search.usage",
            None,
            &r,
            &only_rows_ending(&r.json()?, "/dates/d.txt"),
        )?;
        check!(
            ours(&c, &r)?.contains(&"d.txt".to_string()),
            "usage search: {}",
            r.text()
        );
        Ok(())
    })
}

fn jar_with(entry: &str) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let _ = z.start_file::<_, ()>(entry, zip::write::SimpleFileOptions::default());
        let _ = z.write_all(b"class bytes");
        let _ = z.finish();
    }
    buf.into_inner()
}

fn archive(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let class = format!("Conf{}Probe.class", c.seed % 1_000_000);
        let entry = format!("org/example/{class}");
        c.deploy(&c.path("archive/probe.jar"), &jar_with(&entry))
            .await?;
        // Servers index archives after the deploy: look for a while.
        let mut last = String::new();
        for _ in 0..50 {
            let r = c
                .send(c.req(
                    "GET",
                    &format!("api/search/archive?name={class}&repos={}", c.repo),
                ))
                .await?;
            r.expect_status(200)?;
            r.expect_content_type(
                "application/vnd.org.jfrog.artifactory.search.ArchiveEntrySearchResult+json",
            )?;
            let v = r.json()?;
            let hit = v["results"]
                .as_array()
                .and_then(|rows| rows.iter().find(|x| x["entry"] == json!(entry)).cloned());
            if let Some(hit) = hit {
                let uris: Vec<&str> = hit["archiveUris"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                check!(
                    uris.iter().any(|u| u.ends_with(&format!(
                        "/api/storage/{}/{}/archive/probe.jar",
                        c.repo, c.prefix
                    ))),
                    "archiveUris: {uris:?}"
                );
                c.snap_body(
                    "search.archive",
                    None,
                    &r,
                    &replaced(&v, &class, "<seeded>"),
                )?;
                let r = c.send(c.req("GET", "api/search/archive?name=")).await?;
                expect_text(&r, 400, "The search term cannot be empty")?;
                return c.snap("search.archive", &r);
            }
            last = r.text();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(Failure::Fail(format!(
            "{entry} was not found in 5 s; last answer: {last}"
        )))
    })
}

/// `POST /api/search/aql` with the query as a text/plain body.
async fn post_aql(c: &Ctx, q: &str) -> Result<Response, Failure> {
    c.send(
        c.req("POST", "api/search/aql")
            .header("Content-Type", "text/plain")
            .body(q.as_bytes()),
    )
    .await
}

/// The rows of an AQL answer, after checking the status and the range that counts them.
fn aql_rows(r: &Response) -> Result<Vec<Value>, Failure> {
    r.expect_status(200)?;
    let v = r.json()?;
    let rows = v["results"].as_array().cloned().unwrap_or_default();
    check!(
        v["range"]["end_pos"] == json!(rows.len()) && v["range"]["total"] == json!(rows.len()),
        "range does not count the rows: {}",
        v["range"]
    );
    Ok(rows)
}

fn aql(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        c.deploy(&c.path("aql/b.bin;tier=gold"), b"bb").await?;
        c.deploy(&c.path("aql/a.bin"), b"a").await?;
        let folder = format!("{}/aql", c.prefix);
        let q = format!(
            r#"items.find({{"repo":"{}","path":"{folder}"}}).include("repo","path","name","size","@tier").sort({{"$asc":["name"]}})"#,
            c.repo
        );
        let r = post_aql(&c, &q).await?;
        r.expect_status(200)?;
        c.snap("search.aql", &r)?;
        check!(
            r.text().starts_with("\n{\n\"results\" : [ "),
            "the output frame starts differently: {:?}",
            r.text().chars().take(40).collect::<String>()
        );
        let v = r.json()?;
        // Including only `@tier` puts the key in Artifactory's WHERE clause: a.bin, without it, is
        // not a row (OSS `AqlIncludeServiceTest.multipleResultFilter`).
        check!(
            v["results"]
                == json!([
                    {"repo": c.repo, "path": folder, "name": "b.bin", "size": 2, "properties": [{"key": "tier", "value": "gold"}]}
                ]),
            "rows: {}",
            v["results"]
        );
        check!(
            v["range"] == json!({"start_pos": 0, "end_pos": 1, "total": 1}),
            "range: {}",
            v["range"]
        );
        let q = q.replace("\"@tier\"", "\"property\"");
        let v = post_aql(&c, &q).await?.json()?;
        check!(
            v["results"]
                == json!([
                    {"repo": c.repo, "path": folder, "name": "a.bin", "size": 1},
                    {"repo": c.repo, "path": folder, "name": "b.bin", "size": 2, "properties": [{"key": "tier", "value": "gold"}]}
                ]),
            "rows with every property included: {}",
            v["results"]
        );
        // Without include: the default fields of each row.
        let plain = format!(
            r#"items.find({{"repo":"{}","path":"{folder}"}}).sort({{"$asc":["name"]}})"#,
            c.repo
        );
        let r = post_aql(&c, &plain).await?;
        r.expect_status(200)?;
        c.snap_as("search.aql", "default-fields", &r)?;
        let limited = format!(
            r#"items.find({{"repo":"{}","path":"{folder}"}}).include("repo","path","name","created").sort({{"$asc":["name"]}}).limit(1)"#,
            c.repo
        );
        let r = post_aql(&c, &limited).await?;
        r.expect_status(200)?;
        c.snap_as("search.aql", "include-limit", &r)?;
        let bad = r#"items.find({"size":{"$gt":null}})"#;
        let r = post_aql(&c, bad).await?;
        expect_text(&r,
            400,
            "Illegal syntax the 'null' values are allowed to use only with equals and not equals operators.",
        )?;
        let broken = r#"items.find({"repo":})"#;
        let r = post_aql(&c, broken).await?;
        r.expect_status(400)?;
        c.snap("search.aql", &r)?;
        check!(
            r.text().starts_with(&format!("Failed to parse query: {broken}, it looks like there is syntax error near the following sub-query: ")),
            "parse error: {}",
            r.text()
        );
        Ok(())
    })
}

/// Grammar rules clients trip over: `"@key":"*"` is "the key is set", entries of an object inside
/// `$or` are alternatives, dates as Joda's dateOptionalTimeParser reads them, folders of size 0.
fn aql_quirks(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        c.deploy(&c.path("quirks/b.bin;tier=gold"), b"bb").await?;
        c.deploy(&c.path("quirks/a.bin"), b"a").await?;
        let folder = format!("{}/quirks", c.prefix);
        let names = |criteria: String| {
            let c = &c;
            let q = format!(
                r#"items.find({{"repo":"{}","path":"{folder}",{criteria}}}).include("repo","path","name").sort({{"$asc":["name"]}})"#,
                c.repo
            );
            async move {
                let r = post_aql(c, &q).await?;
                let rows = aql_rows(&r)?;
                Ok::<_, Failure>(
                    rows.iter()
                        .map(|r| r["name"].as_str().unwrap_or("").to_string())
                        .collect::<Vec<_>>(),
                )
            }
        };
        let cases = [
            (r#""@tier":"*""#, vec!["b.bin"]),
            (r#""@tier":{"$ne":"*"}"#, vec!["a.bin"]),
            (r#""@ti*":{"$match":"*"}"#, vec!["b.bin"]),
            (
                r#""$or":[{"name":"a.bin","name":"b.bin"}]"#,
                vec!["a.bin", "b.bin"],
            ),
            (
                r#""$or":[{"$and":[{"name":"a.bin","@tier":"gold"}]}]"#,
                vec![],
            ),
            (r#""created":{"$gt":"2000-01"}"#, vec!["a.bin", "b.bin"]),
            (r#""created":{"$lt":"2000-01-01T00"}"#, vec![]),
            (r#""modified":{"$last":"10Days"}"#, vec!["a.bin", "b.bin"]),
        ];
        for (criteria, want) in cases {
            let got = names(criteria.to_string()).await?;
            check!(got == want, "{criteria}: rows {got:?}, expected {want:?}");
        }
        let r = post_aql(&c, r#"items.find({"created":{"$gt":"yesterday"}})"#).await?;
        expect_text(
            &r,
            400,
            "Invalid Date format: yesterday, AQL expect ISODateTimeFormat or long number",
        )?;
        let q = format!(
            r#"items.find({{"repo":"{}","path":"{}","name":"quirks","type":"folder"}}).include("repo","path","name","size")"#,
            c.repo, c.prefix
        );
        let rows = aql_rows(&post_aql(&c, &q).await?)?;
        check!(
            rows == [json!({"repo": c.repo, "path": c.prefix, "name": "quirks", "size": 0})],
            "folder row: {rows:?}"
        );
        Ok(())
    })
}

/// The properties and stats domains and cross-domain fields, on a property key only this run uses.
fn aql_domains(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let key = format!("aqldom{}", c.seed % 1_000_000);
        let dir = format!("{}/dom", c.prefix);
        c.deploy(&c.path(&format!("dom/one.bin;{key}=same")), b"1")
            .await?;
        c.deploy(&c.path(&format!("dom/two.bin;{key}=same")), b"22")
            .await?;
        let r = c.send(c.req("GET", &c.path("dom/two.bin"))).await?;
        r.expect_status(200)?;
        // Equal rows count once unless `.distinct(false)`.
        let q = format!(r#"properties.find({{"key":"{key}","item.path":"{dir}"}})"#);
        let rows = aql_rows(&post_aql(&c, &q).await?)?;
        check!(
            rows == [json!({"key": key, "value": "same"})],
            "distinct property rows: {rows:?}"
        );
        let q =
            format!(r#"properties.find({{"key":"{key}","item.path":"{dir}"}}).distinct(false)"#);
        let rows = aql_rows(&post_aql(&c, &q).await?)?;
        check!(rows.len() == 2, "rows with distinct(false): {rows:?}");
        // Sub-domain fields nest as arrays; a criterion on a related domain (stats) filters items.
        let q = format!(
            r#"items.find({{"@{key}":"same","stat.downloads":{{"$gt":0}}}}).include("name","stat.downloads","property.key")"#
        );
        let rows = aql_rows(&post_aql(&c, &q).await?)?;
        check!(rows.len() == 1, "downloaded items: {rows:?}");
        let row = &rows[0];
        check!(row["name"] == json!("two.bin"), "row: {row}");
        check!(
            row["stats"]
                .as_array()
                .is_some_and(|s| s.len() == 1 && s[0]["downloads"].as_u64() >= Some(1)),
            "stats: {row}"
        );
        check!(
            row["properties"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x["key"] == json!(key))),
            "properties: {row}"
        );
        let q = format!(r#"stats.find({{"item.@{key}":"same"}}).include("downloads","item.name")"#);
        let rows = aql_rows(&post_aql(&c, &q).await?)?;
        check!(
            rows.len() == 1 && rows[0]["items"] == json!([{"name": "two.bin"}]),
            "stats rows: {rows:?}"
        );
        Ok(())
    })
}

/// The build domains answer (here: a build name nobody uses) in the same frame, and reject an
/// unknown field with a plain-text 400.
fn aql_builds(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("conformance-no-such-build-{}", c.seed);
        for domain in ["builds", "artifacts", "dependencies", "modules"] {
            let field = match domain {
                "builds" => "name",
                "modules" => "build.name",
                _ => "module.build.name",
            };
            let q = format!(r#"{domain}.find({{"{field}":"{name}"}})"#);
            let r = post_aql(&c, &q).await?;
            check!(
                r.text().starts_with("\n{\n\"results\" : [ "),
                "{domain}: the output frame starts differently: {:?}",
                r.text()
            );
            let rows = aql_rows(&r)?;
            check!(
                rows.is_empty(),
                "{domain}: rows for an unused build name: {rows:?}"
            );
        }
        let r = post_aql(&c, r#"builds.find({"size":1})"#).await?;
        r.expect_status(400)?;
        check!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("text/plain")),
            "content type {:?}",
            r.header("content-type")
        );
        Ok(())
    })
}
