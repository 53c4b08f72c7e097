//! AQL over the items domain: the output frame, fields, include/sort/offset/limit, criteria, errors and
//! permissions.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

async fn aql(s: &Srv, user: (&str, &str), q: &str) -> (u16, String) {
    let r = s
        .basic(Method::POST, "api/search/aql", user.0, user.1)
        .header("content-type", "text/plain")
        .body(q.to_string())
        .go()
        .await;
    let st = r.status().as_u16();
    (st, r.text())
}

const ADMIN: (&str, &str) = ("admin", "password");

#[tokio::test]
async fn the_output_frame_and_default_fields() {
    let s = start().await;
    s.deploy("generic-local/top.txt", "12345").await;
    s.deploy("generic-local/org/a.jar;build=7", "a").await;
    let (st, body) = aql(&s, ADMIN, r#"items.find({"repo":"generic-local"})"#).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.starts_with("\n{\n\"results\" : [ {\n"), "{body:?}");
    assert!(
        body.ends_with(
            " ],\n\"range\" : {\n  \"start_pos\" : 0,\n  \"end_pos\" : 2,\n  \"total\" : 2\n}\n}\n"
        ),
        "{body:?}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    let rows = v["results"].as_array().unwrap();
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "repo",
            "path",
            "name",
            "type",
            "size",
            "created",
            "created_by",
            "modified",
            "modified_by",
            "updated"
        ]
    );
    assert_eq!(
        rows[0],
        json!({"repo": "generic-local", "path": "org", "name": "a.jar", "type": "file", "size": 1,
               "created": T0_ISO, "created_by": "admin", "modified": T0_ISO, "modified_by": "admin", "updated": T0_ISO})
    );
    assert_eq!(
        (
            rows[1]["path"].clone(),
            rows[1]["name"].clone(),
            rows[1]["size"].clone()
        ),
        (json!("."), json!("top.txt"), json!(5))
    );
    // Folders (the root is `"."`/`"."`) have size 0, as in Artifactory's answers.
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"repo":"generic-local","type":"folder","size":0}).include("path","name","size")"#,
    )
    .await;
    assert_eq!(
        self::rows(&body),
        [
            json!({"path": ".", "name": ".", "size": 0}),
            json!({"path": ".", "name": "org", "size": 0})
        ]
    );
}

#[tokio::test]
async fn criteria_include_sort_offset_limit() {
    let s = start().await;
    for (p, body) in [
        ("a/x1.jar;build=1;os=linux", "1"),
        ("a/x2.jar;build=2", "22"),
        ("b/y.txt", "333"),
        ("b/x3.JAR", "4444"),
    ] {
        s.deploy(&format!("generic-local/{p}"), body).await;
    }
    assert_eq!(s.get("generic-local/a/x2.jar").await.status(), 200);
    let names = |body: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(body).unwrap();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            r#"items.find({"name":{"$match":"*.jar"}})"#,
            vec!["x1.jar", "x2.jar"],
        ),
        (
            r#"items.find({"name":{"$nmatch":"*.jar"}})"#,
            vec!["x3.JAR", "y.txt"],
        ),
        (
            r#"items.find({"size":{"$gte":2,"$lt":4}})"#,
            vec!["x2.jar", "y.txt"],
        ),
        (
            r#"items.find({"$or":[{"@build":"1"},{"path":"b"}]})"#,
            vec!["x1.jar", "x3.JAR", "y.txt"],
        ),
        (
            r#"items.find({"@build":{"$ne":"1"}})"#,
            vec!["x2.jar", "x3.JAR", "y.txt"],
        ),
        (r#"items.find({"@*":"linux"})"#, vec!["x1.jar"]),
        (r#"items.find({"@os":{"$match":"*"}})"#, vec!["x1.jar"]),
        (
            r#"items.find({"stat.downloads":{"$gt":0}})"#,
            vec!["x2.jar"],
        ),
        (
            r#"items.find({"created":{"$last":"1d"},"repo":"generic-local","path":"a"})"#,
            vec!["x1.jar", "x2.jar"],
        ),
        (r#"items.find({"created":{"$before":"1d"}})"#, vec![]),
        // Dates as Joda's dateOptionalTimeParser reads them, relative units in any case.
        (
            r#"items.find({"created":{"$gt":"2020-01"},"modified":{"$lt":"2999-12-31T23"},"updated":{"$last":"1Days"},"name":{"$match":"x*.jar"}})"#,
            vec!["x1.jar", "x2.jar"],
        ),
        (r#"items.find({"created":{"$lt":"2020-01-01"}})"#, vec![]),
        // `"@key":"*"` is "the key is set", `$ne` "it is not"; keys may be patterns.
        (r#"items.find({"@os":"*"})"#, vec!["x1.jar"]),
        (
            r#"items.find({"repo":"generic-local","@os":{"$ne":"*"}})"#,
            vec!["x2.jar", "x3.JAR", "y.txt"],
        ),
        (
            r#"items.find({"@bu*":{"$match":"*"}})"#,
            vec!["x1.jar", "x2.jar"],
        ),
        (r#"items.find({"@o?":"linux"})"#, vec!["x1.jar"]),
        // `null` in a property criterion is the text "null".
        (r#"items.find({"@os":{"$match":null}})"#, vec![]),
        (r#"items.find({"@os":null})"#, vec![]),
        (
            r#"items.find({"repo":"generic-local","@os":{"$ne":null}})"#,
            vec!["x1.jar", "x2.jar", "x3.JAR", "y.txt"],
        ),
        // Braces do not group inside `$or`: each entry is an alternative; `$and` groups.
        (
            r#"items.find({"$or":[{"name":"y.txt","name":"x3.JAR"}]})"#,
            vec!["x3.JAR", "y.txt"],
        ),
        (
            r#"items.find({"$or":[{"name":"y.txt","path":"a"}]})"#,
            vec!["x1.jar", "x2.jar", "y.txt"],
        ),
        (
            r#"items.find({"$or":[{"$and":[{"name":"y.txt","path":"a"}]},{"name":"x3.JAR"}]})"#,
            vec!["x3.JAR"],
        ),
        (
            r#"items.find({"type":"folder","repo":"generic-local"})"#,
            vec![".", "a", "b"],
        ),
        (
            r#"items.find({"actual_sha1":"356a192b7913b04c54574d18c28d46e6395428ab"})"#,
            vec!["x1.jar"],
        ),
    ];
    for (q, want) in cases {
        let (st, body) = aql(&s, ADMIN, q).await;
        assert_eq!(st, 200, "{q}: {body}");
        assert_eq!(names(&body), want, "{q}");
    }
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"repo":"generic-local"}).include("name","repo","path","@build","stat","sha256").sort({"$desc":["name"]}).offset(0).limit(2)"#,
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    // Including only `@build` also drops y.txt and x3.JAR, which have no `build` property
    // (Artifactory's WHERE on the key): descending by name, x2.jar then x1.jar.
    assert_eq!(
        v["range"],
        json!({"start_pos": 0, "end_pos": 2, "total": 2, "limit": 2})
    );
    assert_eq!(
        v["results"][0],
        json!({"repo": "generic-local", "path": "a", "name": "x2.jar",
               "properties": [{"key": "build", "value": "2"}],
               "sha256": sha256_hex(b"22"),
               "stats": [{"downloaded": T0_ISO, "downloaded_by": "admin", "downloads": 1}]})
    );
    let keys: Vec<&String> = v["results"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["repo", "path", "name", "properties", "sha256", "stats"]
    );
    assert_eq!(v["results"][1]["name"], "x1.jar");
    // Sorting by a field of an included related domain; files never downloaded have none.
    for (dir, want) in [
        ("$desc", ["x2.jar", "x1.jar", "x3.JAR", "y.txt"]),
        ("$asc", ["x1.jar", "x3.JAR", "y.txt", "x2.jar"]),
    ] {
        let q = format!(
            r#"items.find({{"repo":"generic-local"}}).include("name","stat.downloads").sort({{"{dir}":["stat.downloads"]}})"#
        );
        assert_eq!(names(&aql(&s, ADMIN, &q).await.1), want, "{q}");
    }
    let q = r#"items.find({"repo":"generic-local"}).include("name","virtual_repos","repo","path").sort({"$asc":["virtual_repos","name"]})"#;
    assert_eq!(aql(&s, ADMIN, q).await.0, 200);
}

#[tokio::test]
async fn errors_are_plain_text_400s() {
    let s = start_with(with_bob).await;
    let cases = [
        (r#"items.find({"repo":"x"}).limit(1).sort({"$asc":["name"]})"#,
         r#"Failed to parse query: items.find({"repo":"x"}).limit(1).sort({"$asc":["name"]}), it looks like there is syntax error near the following sub-query: .sort({"$asc":["name"]})"#),
        (r#"items.find({"size":{"$gt":null}})"#, "Illegal syntax the 'null' values are allowed to use only with equals and not equals operators."),
        (r#"items.find({"type":"symlink"})"#, "Invalid file type: symlink, valid types are : file, folder, any"),
        (r#"items.find({"size":"big"})"#, "AQL Expect long value but found:big"),
        (r#"items.find({"stat.downloads":"many"})"#, "AQL Expect integer value but found:many"),
        (r#"items.find({"created":{"$last":"3fortnights"}})"#, "Invalid relative date format for: 3fortnights"),
        (r#"items.find({"created":{"$gt":"yesterday"}})"#, "Invalid Date format: yesterday, AQL expect ISODateTimeFormat or long number"),
        (r#"items.find().sort({"$asc":["name","name"]})"#, "Duplicate fields, all the fields in the sort section should be unique."),
        (r#"items.find().include("name","repo","path").sort({"$asc":["size"]})"#, "Only the result fields are allowed to use in the sort section."),
        (r#"items.find().include("name","repo","path").sort({"$asc":["stat.downloads"]})"#, "Only the result fields are allowed to use in the sort section."),
        (r#"items.find().include("name","stat").sort({"$asc":["stat.size"]})"#, "Only the result fields are allowed to use in the sort section."),
        (r#"builds.find({"size":1})"#, "Unknown field 'size' in the builds domain"),
        (r#"items.find().include("stat.size")"#, "Unknown field 'stat.size' in include"),
        (r#"builds.find().transitive()"#, "Transitive queries support only the items domain."),
        (r#"items.find({"repo":"generic-local"}).sort({"$asc":["name"]}).transitive()"#, "Sort and offset are not supported in transitive queries."),
        (r#"items.find().include("virtual_repos")"#, "When including virtual_repos field, the following fields are also required: repo, path and name."),
    ];
    for (q, msg) in cases {
        let (st, body) = aql(&s, ADMIN, q).await;
        assert_eq!((st, body.as_str()), (400, msg), "{q}");
    }
    let (st, body) = aql(&s, ("bob", "pw"), r#"items.find().include("name")"#).await;
    assert_eq!(
        (st, body.as_str()),
        (
            400,
            "For permissions reasons AQL demands the following fields: repo, path and name."
        )
    );
    let (st, body) = aql(&s, ADMIN, "  ").await;
    assert_eq!((st, body.as_str()), (400, ""));
    let r = s
        .anon(Method::POST, "api/search/aql")
        .body("items.find()")
        .go()
        .await;
    assert_rest_error(r, 401, "Authentication is required").await;
}

#[tokio::test]
async fn rows_the_caller_may_not_read_are_dropped() {
    let s = start_with(|c| {
        c.users.push(user("scoped", Some(&[])));
        c.permissions.push(target(
            "t",
            "generic-local",
            "public/**",
            &[("scoped", "r")],
        ));
    })
    .await;
    s.deploy("generic-local/public/a.txt", "a").await;
    s.deploy("generic-local/private/b.txt", "b").await;
    let (st, body) = aql(
        &s,
        ("scoped", "scoped-pw"),
        r#"items.find({"repo":"generic-local"})"#,
    )
    .await;
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(v["results"][0]["name"], "a.txt");
    // Unreadable rows are dropped before the page is cut (Artifactory cuts first; FIDELITY), so the
    // page does not reveal them: by descending name b.txt would come first.
    let (_, body) = aql(
        &s,
        ("scoped", "scoped-pw"),
        r#"items.find({"repo":"generic-local"}).include("repo","path","name").sort({"$desc":["name"]}).limit(1)"#,
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["results"],
        json!([{"repo": "generic-local", "path": "public", "name": "a.txt"}])
    );
    assert_eq!(
        v["range"],
        json!({"start_pos": 0, "end_pos": 1, "total": 1, "limit": 1})
    );
    // The same for answers printed whole (here: with nested archive rows).
    let (_, body) = aql(
        &s,
        ("scoped", "scoped-pw"),
        r#"items.find({"repo":"generic-local"}).include("repo","path","name","archive.entry").sort({"$desc":["name"]}).offset(1)"#,
    )
    .await;
    assert_eq!(rows(&body), Vec::<Value>::new());
    // The query may also come as the `query` form parameter.
    let r = s
        .admin(Method::POST, "api/search/aql")
        .form(&[("query", r#"items.find({"name":"b.txt"})"#)])
        .go()
        .await;
    let v: Value = r.json();
    assert_eq!(v["range"]["total"], 1);
}

fn rows(body: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["results"].as_array().unwrap().clone()
}

#[tokio::test]
async fn properties_and_stats_domains_and_distinct() {
    let s = start_with(with_bob).await;
    s.deploy("generic-local/a.txt;os=linux;arch=x64", "a").await;
    s.deploy("generic-local/b.txt;os=linux", "b").await;
    assert_eq!(s.get("generic-local/b.txt").await.status(), 200);
    // Equal rows count once unless `.distinct(false)`.
    let (st, body) = aql(&s, ADMIN, r#"properties.find({"key":"os"})"#).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(rows(&body), [json!({"key": "os", "value": "linux"})]);
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"properties.find({"key":"os"}).distinct(false)"#,
    )
    .await;
    assert_eq!(rows(&body).len(), 2);
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"properties.find({"item.name":"a.txt"}).include("key","item.name").sort({"$asc":["key"]})"#,
    )
    .await;
    assert_eq!(
        rows(&body),
        [
            json!({"items": [{"name": "a.txt"}], "key": "arch"}),
            json!({"items": [{"name": "a.txt"}], "key": "os"})
        ]
    );
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"stats.find({"downloads":{"$gt":0}}).include("*","item.name")"#,
    )
    .await;
    assert_eq!(
        rows(&body),
        [
            json!({"downloaded": T0_ISO, "downloaded_by": "admin", "downloads": 1, "items": [{"name": "b.txt"}]})
        ]
    );
    // Other domains answer admins only, as Artifactory filters them for everyone else.
    let (st, body) = aql(&s, ("bob", "pw"), r#"properties.find()"#).await;
    assert_eq!((st, rows(&body).len()), (200, 0));
    // The distinct rule also applies to items reduced to one field.
    let (_, body) = aql(&s, ADMIN, r#"items.find().include("repo")"#).await;
    assert_eq!(rows(&body), [json!({"repo": "generic-local"})]);
    // $msp: one and the same property must satisfy both criteria.
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"$msp":[{"@os":"linux"},{"@*":"x64"}]})"#,
    )
    .await;
    assert!(rows(&body).is_empty(), "{body}");
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"$and":[{"@os":"linux"},{"@*":"x64"}]})"#,
    )
    .await;
    assert_eq!(rows(&body).len(), 1);
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"$msp":[{"@arch":"x64"},{"@*":"x64"}]})"#,
    )
    .await;
    assert_eq!(rows(&body).len(), 1);
}

#[tokio::test]
async fn archive_entries_domain_and_cross_domain_fields() {
    let s = start().await;
    s.deploy("generic-local/lib/a.jar", crate::retrieve::zip_bytes())
        .await;
    let q = r#"archive.entries.find({"name":{"$match":"*.txt"}})"#;
    let mut body = String::new();
    for _ in 0..100 {
        body = aql(&s, ADMIN, q).await.1;
        if !rows(&body).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        rows(&body),
        [json!({"entry.name": "LICENSE.txt", "entry.path": "META-INF"})]
    );
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"archive.entry.name":"LICENSE.txt"}).include("name","archive.entry")"#,
    )
    .await;
    assert_eq!(
        rows(&body),
        [
            json!({"name": "a.jar", "archives": [{"entries": [{"entry.name": "LICENSE.txt", "entry.path": "META-INF"}]}]})
        ]
    );
    // Archives have no fields of their own: nothing to print for them.
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"name":"a.jar"}).include("name","archive.*")"#,
    )
    .await;
    assert_eq!(rows(&body), [json!({"name": "a.jar"})]);
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"archive.entries.find({"archive.item.name":"a.jar"}).include("name","archive.item.repo")"#,
    )
    .await;
    assert_eq!(
        rows(&body),
        [
            json!({"archives": [{"items": [{"repo": "generic-local"}]}], "entry.name": "LICENSE.txt"})
        ]
    );
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"archive.entry.name":"Main.class"})"#,
    )
    .await;
    assert!(rows(&body).is_empty());
}

const BUILD_INFO: &str = r#"{
  "version": "1.0.1", "name": "app", "number": "7", "type": "GENERIC",
  "started": "2026-11-20T10:00:00.000+0000", "url": "https://ci.example/app/7",
  "artifactoryPrincipal": "admin",
  "properties": {"buildInfo.env.JOB": "nightly"},
  "statuses": [{"status": "released", "comment": "ok", "repository": "generic-local",
                "timestamp": "2026-11-21T10:00:00.000+0000", "user": "admin", "ciUser": "ci"}],
  "modules": [{"id": "org:app:1.0", "properties": {"team": "core"},
    "artifacts": [{"type": "jar", "name": "app.jar", "sha1": "SHA1_OF_APP", "md5": "m"}],
    "dependencies": [{"id": "org:lib:2.0", "type": "jar", "scopes": ["compile", "runtime"], "sha1": "0000"}]}]
}"#;

#[tokio::test]
async fn build_domains_over_stored_build_info() {
    let s = start_with(with_bob).await;
    // `artifactory-build-info` exists on a fresh instance, as on JCR.
    s.deploy("generic-local/dist/app.jar", "the app").await;
    let doc = BUILD_INFO.replace("SHA1_OF_APP", &sha1_hex(b"the app"));
    s.deploy(
        "artifactory-build-info/app/7-1795600800000.json",
        doc.clone(),
    )
    .await;
    s.deploy("artifactory-build-info/notes.json", "not json")
        .await;
    let (st, body) = aql(&s, ADMIN, r#"builds.find({"name":"app"})"#).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        rows(&body),
        [
            json!({"build.created": T0_ISO, "build.created_by": "admin", "build.modified": T0_ISO,
                "build.modified_by": "admin", "build.name": "app", "build.number": "7",
                "build.started": "2026-11-20T10:00:00.000Z", "build.url": "https://ci.example/app/7"})
        ]
    );
    let cases: Vec<(&str, Vec<Value>)> = vec![
        (
            r#"build.properties.find({"build.name":"app"})"#,
            vec![
                json!({"build.property.key": "buildInfo.env.JOB", "build.property.value": "nightly"}),
            ],
        ),
        (
            r#"build.promotions.find({"status":"released"})"#,
            vec![
                json!({"build.promotion.comment": "ok", "build.promotion.created": "2026-11-21T10:00:00.000Z",
                        "build.promotion.created_by": "admin", "build.promotion.repo": "generic-local",
                        "build.promotion.status": "released", "build.promotion.user": "ci"}),
            ],
        ),
        (
            r#"modules.find({"build.number":"7"}).include("name","property.key")"#,
            vec![
                json!({"module.name": "org:app:1.0", "module.properties": [{"module.property.key": "team"}]}),
            ],
        ),
        (
            r#"module.properties.find({"key":"team"})"#,
            vec![json!({"module.property.key": "team", "module.property.value": "core"})],
        ),
        (
            r#"artifacts.find({"module.build.name":"app"})"#,
            vec![json!({"artifact.name": "app.jar", "artifact.type": "jar"})],
        ),
        (
            r#"dependencies.find({"scope":{"$match":"*runtime*"}})"#,
            vec![
                json!({"dependency.name": "org:lib:2.0", "dependency.scope": "compile,runtime", "dependency.type": "jar"}),
            ],
        ),
        (
            r#"builds.find({"module.artifact.item.name":"app.jar"}).include("number")"#,
            vec![json!({"build.number": "7"})],
        ),
        (
            r#"builds.find({"@buildInfo.env.JOB":"nightly"}).include("name")"#,
            vec![json!({"build.name": "app"})],
        ),
        (r#"builds.find({"name":"other"})"#, vec![]),
        (r#"releases.find()"#, vec![]),
    ];
    for (q, want) in cases {
        let (st, body) = aql(&s, ADMIN, q).await;
        assert_eq!(st, 200, "{q}: {body}");
        assert_eq!(rows(&body), want, "{q}");
    }
    // Items reach their builds through the artifact checksum.
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"artifact.module.build.name":"app"}).include("repo","path","name","artifact.module.build.number")"#,
    )
    .await;
    assert_eq!(
        rows(&body),
        [
            json!({"repo": "generic-local", "path": "dist", "name": "app.jar",
                "artifacts": [{"modules": [{"builds": [{"build.number": "7"}]}]}]})
        ]
    );
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"artifact.module.build.name":{"$ne":"app"},"repo":"generic-local"})"#,
    )
    .await;
    assert!(rows(&body).is_empty(), "{body}");
    // Non-admin callers get no rows from the build domains.
    let (st, body) = aql(&s, ("bob", "pw"), r#"builds.find()"#).await;
    assert_eq!((st, rows(&body).len()), (200, 0));
    // Documents are read again when they change, and forgotten when deleted.
    s.deploy(
        "artifactory-build-info/app/7-1795600800000.json",
        doc.replace("https://ci.example/app/7", "https://ci.example/app/7-again"),
    )
    .await;
    let (_, body) = aql(&s, ADMIN, r#"builds.find().include("url")"#).await;
    assert_eq!(
        rows(&body),
        [json!({"build.url": "https://ci.example/app/7-again"})]
    );
    let r = s
        .admin(Method::DELETE, "artifactory-build-info/app")
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let (_, body) = aql(&s, ADMIN, r#"builds.find()"#).await;
    assert!(rows(&body).is_empty(), "{body}");
}

#[tokio::test]
async fn virtual_repositories_and_transitive() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "api/repositories/virt")
        .json(&json!({"rclass": "virtual", "repositories": ["generic-local"]}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    s.deploy("generic-local/a.txt", "a").await;
    s.deploy("helm-local/b.tgz", crate::retrieve::tgz_bytes())
        .await;
    // A virtual repository named as the target stands for its members, and rows say which
    // virtual repositories hold them.
    let (st, body) = aql(&s, ADMIN, r#"items.find({"repo":"virt"})"#).await;
    assert_eq!(st, 200, "{body}");
    let got = rows(&body);
    assert_eq!(got.len(), 1, "{body}");
    assert_eq!(
        (
            got[0]["repo"].clone(),
            got[0]["name"].clone(),
            got[0]["virtual_repos"].clone()
        ),
        (json!("generic-local"), json!("a.txt"), json!(["virt"]))
    );
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"repo":"virt"}).include("name").transitive().limit(5)"#,
    )
    .await;
    assert_eq!(rows(&body), [json!({"name": "a.txt"})]);
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"repo":"generic-local"}).include("repo","path","name","virtual_repos")"#,
    )
    .await;
    assert_eq!(
        rows(&body),
        [json!({"repo": "generic-local", "path": ".", "name": "a.txt", "virtual_repos": ["virt"]})]
    );
}

/// The indexes behind checksum and property lookups are rebuilt from the snapshot after a restart,
/// and follow changes (property edits, deletes) made afterwards.
#[tokio::test]
async fn lookups_by_checksum_and_property_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let s = start_with(|c| c.data_dir = Some(data.clone())).await;
        s.deploy("generic-local/a.bin;team=core", "alpha").await;
        s.deploy("generic-local/b.bin;team=core", "beta").await;
        s.server.stop().await;
    }
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    let names = |body: String| -> Vec<String> {
        rows(&body)
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let q = format!(r#"items.find({{"actual_sha1":"{}"}})"#, sha1_hex(b"alpha"));
    assert_eq!(names(aql(&s, ADMIN, &q).await.1), ["a.bin"]);
    let by_team = r#"items.find({"@team":"core"})"#;
    assert_eq!(names(aql(&s, ADMIN, by_team).await.1), ["a.bin", "b.bin"]);
    let r = s
        .admin(
            Method::PUT,
            "api/storage/generic-local/a.bin?properties=team=edge",
        )
        .go()
        .await;
    assert_eq!(r.status(), 204);
    let r = s.admin(Method::DELETE, "generic-local/b.bin").go().await;
    assert_eq!(r.status(), 204);
    assert!(names(aql(&s, ADMIN, by_team).await.1).is_empty());
    let edge = r#"items.find({"@team":"EDGE"})"#;
    assert!(
        names(aql(&s, ADMIN, edge).await.1).is_empty(),
        "AQL is case-sensitive"
    );
    let r = s.get("api/search/prop?team=EDGE").await;
    let v: Value = r.json();
    assert_eq!(
        v["results"],
        json!([{"uri": format!("{}/api/storage/generic-local/a.bin", s.base)}])
    );
    // Deploy by checksum finds the content through the index too.
    let r = s
        .admin(Method::PUT, "generic-local/again.bin")
        .header("X-Checksum-Deploy", "true")
        .header("X-Checksum-Sha1", sha1_hex(b"alpha"))
        .go()
        .await;
    assert_eq!(r.status(), 201);
}

fn build_info(name: &str, number: &str, started: &str, sha1: &str) -> String {
    json!({"name": name, "number": number, "started": started,
           "modules": [{"id": "m", "artifacts": [{"name": "shared.jar", "type": "jar", "sha1": sha1}]}]})
    .to_string()
}

/// Rows reached from a readable item (through archive entries or build artifacts) are filtered by
/// read permission too, in includes and in criteria.
#[tokio::test]
async fn joined_rows_do_not_reveal_unreadable_items() {
    let s = start_with(|c| {
        c.users.push(user("scoped", Some(&[])));
        c.permissions
            .push(target("t", "generic-local", "pub/**", &[("scoped", "r")]));
    })
    .await;
    let jar = crate::retrieve::zip_bytes();
    s.deploy("generic-local/pub/a.jar", jar.clone()).await;
    s.deploy("generic-local/secret/b.jar", jar.clone()).await;
    s.deploy(
        "artifactory-build-info/app/1-1.json",
        build_info("app", "1", "2026-01-01T00:00:00.000+0000", &sha1_hex(&jar)),
    )
    .await;
    let scoped = ("scoped", "scoped-pw");
    let q = r#"items.find({"name":"a.jar"}).include("repo","path","name","archive.entry.archive.item.path")"#;
    let mut body = String::new();
    for _ in 0..100 {
        body = aql(&s, ADMIN, q).await.1;
        if body.contains("secret") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        body.contains("secret"),
        "an admin sees both archives: {body}"
    );
    let (st, body) = aql(&s, scoped, q).await;
    assert_eq!(st, 200, "{body}");
    assert!(!body.contains("secret"), "{body}");
    assert!(body.contains("\"pub\""), "{body}");
    let q = r#"items.find({"name":"a.jar"}).include("repo","path","name","artifact.item.path")"#;
    let (_, body) = aql(&s, ADMIN, q).await;
    assert!(body.contains("secret"), "{body}");
    let (_, body) = aql(&s, scoped, q).await;
    assert!(
        !body.contains("secret") && body.contains("\"pub\""),
        "{body}"
    );
    // Nor can a criterion probe for them.
    let q = r#"items.find({"name":"a.jar","artifact.item.path":"secret"})"#;
    assert_eq!(rows(&aql(&s, ADMIN, q).await.1).len(), 1);
    assert!(rows(&aql(&s, scoped, q).await.1).is_empty());
}

/// Criteria on the same related domain must hold for one related row (one SQL join), and `$msp`
/// criteria for one property row.
#[tokio::test]
async fn criteria_on_one_related_row_and_msp() {
    let s = start().await;
    s.deploy("generic-local/lib.jar;a=1;b=2", "lib").await;
    let sum = sha1_hex(b"lib");
    let started = "2026-01-01T00:00:00.000+0000";
    s.deploy(
        "artifactory-build-info/A/5-1.json",
        build_info("A", "5", started, &sum),
    )
    .await;
    s.deploy(
        "artifactory-build-info/B/7-1.json",
        build_info("B", "7", started, &sum),
    )
    .await;
    let count = |q: &'static str| {
        let s = &s;
        async move { rows(&aql(s, ADMIN, q).await.1).len() }
    };
    assert_eq!(
        count(
            r#"items.find({"artifact.module.build.name":"A","artifact.module.build.number":"7"})"#
        )
        .await,
        0
    );
    assert_eq!(
        count(
            r#"items.find({"artifact.module.build.name":"B","artifact.module.build.number":"7"})"#
        )
        .await,
        1
    );
    // One join per domain for the whole query, whatever the nesting (jfrog-cli sends this form).
    assert_eq!(
        count(r#"items.find({"$and":[{"artifact.module.build.name":"A"},{"artifact.module.build.number":"7"}]})"#).await,
        0
    );
    assert_eq!(
        count(r#"items.find({"artifact.module.build.name":"A","$or":[{"artifact.module.build.number":"7"}]})"#).await,
        0
    );
    // Each row is tested as SQL does: build B is not A; a never-downloaded file has NULL stats
    // (the build-info files themselves have no builds: NULL, which `$ne` also matches).
    assert_eq!(
        count(r#"items.find({"repo":"generic-local","artifact.module.build.name":{"$ne":"A"}})"#)
            .await,
        1
    );
    assert_eq!(
        count(r#"items.find({"repo":"generic-local","stat.downloads":{"$ne":3},"stat.downloaded_by":{"$ne":"bob"}})"#).await,
        1
    );
    assert_eq!(
        count(
            r#"items.find({"repo":"generic-local","stat.downloads":null,"stat.downloaded":null})"#
        )
        .await,
        1
    );
    // Inside `$msp`, `$ne` is Artifactory's `key != k or value != v` on the one row: lib.jar's
    // row b=2 satisfies `@a $ne 1`; a positive criterion pins the key.
    assert_eq!(
        count(r#"items.find({"repo":"generic-local","$msp":[{"@a":{"$ne":"1"}}]})"#).await,
        1
    );
    assert_eq!(
        count(r#"items.find({"repo":"generic-local","$msp":[{"@a":"1"},{"@a":{"$ne":"1"}}]})"#)
            .await,
        0
    );
    assert_eq!(
        count(r#"items.find({"repo":"generic-local","$msp":[{"@a":{"$ne":"9"}}]})"#).await,
        1
    );
    // Files without properties meet the left join's NULL row: negative criteria hold, positive
    // ones do not.
    assert_eq!(
        count(r#"items.find({"repo":"artifactory-build-info","$msp":[{"@zz":{"$ne":"1"}}]})"#)
            .await,
        2
    );
    assert_eq!(
        count(r#"items.find({"repo":"artifactory-build-info","$msp":[{"@zz":{"$ne":"1"}},{"property.key":"zz"}]})"#).await,
        0
    );
    assert_eq!(
        count(r#"items.find({"$msp":[{"property.key":"a"},{"property.value":"2"}]})"#).await,
        0
    );
    assert_eq!(
        count(r#"items.find({"$msp":[{"property.key":"b"},{"property.value":"2"}]})"#).await,
        1
    );
    assert_eq!(
        count(r#"builds.find({"$msp":[{"@x":"1"}]})"#).await,
        0,
        "builds without properties"
    );
    s.deploy(
        "artifactory-build-info/C/1-1.json",
        json!({"name": "C", "number": "1", "properties": {"a": "x", "c": "2"}}).to_string(),
    )
    .await;
    // Build properties are joined once per criterion, unless `$msp` pins one row.
    assert_eq!(
        count(r#"builds.find({"property.key":"a","property.value":"2"})"#).await,
        1
    );
    assert_eq!(
        count(r#"builds.find({"$msp":[{"property.key":"a"},{"property.value":"2"}]})"#).await,
        0
    );
    assert_eq!(
        count(r#"builds.find({"$msp":[{"property.key":"c"},{"property.value":"2"}]})"#).await,
        1
    );
}

/// Included related rows are those the criteria hold with (Artifactory selects them from the
/// aliases its criteria join), except properties, which get an alias per criterion and all show;
/// including only `@key` properties also keeps only items having one of the keys.
#[tokio::test]
async fn included_rows_follow_the_criteria_joins() {
    let s = start().await;
    s.deploy("generic-local/lib.jar;a=1;b=2", "lib").await;
    s.deploy("generic-local/other.txt", "other").await;
    let sum = sha1_hex(b"lib");
    let started = "2026-01-01T00:00:00.000+0000";
    for (name, number) in [("A", "5"), ("B", "7")] {
        s.deploy(
            &format!("artifactory-build-info/{name}/{number}-1.json"),
            build_info(name, number, started, &sum),
        )
        .await;
    }
    let builds = |q: &'static str| {
        let s = &s;
        async move {
            let mut names: Vec<String> = Vec::new();
            for row in rows(&aql(s, ADMIN, q).await.1) {
                for a in row["artifacts"].as_array().into_iter().flatten() {
                    for m in a["modules"].as_array().into_iter().flatten() {
                        for b in m["builds"].as_array().into_iter().flatten() {
                            names.push(b["build.name"].as_str().unwrap().to_string());
                        }
                    }
                }
            }
            names.sort();
            names
        }
    };
    assert_eq!(
        builds(r#"items.find({"artifact.module.build.name":"A"}).include("name","artifact.module.build.name")"#).await,
        ["A"]
    );
    assert_eq!(
        builds(r#"items.find({"name":"lib.jar"}).include("name","artifact.module.build.name")"#)
            .await,
        ["A", "B"]
    );
    // Matched through another branch of an `$or`: the criteria hold with every build row.
    assert_eq!(
        builds(r#"items.find({"$or":[{"artifact.module.build.name":"A"},{"name":"lib.jar"}]}).include("name","artifact.module.build.name")"#).await,
        ["A", "B"]
    );
    assert_eq!(
        builds(r#"items.find({"artifact.module.build.number":{"$gt":"6"}}).include("name","artifact.module.build.name")"#).await,
        ["B"]
    );
    // Properties are not narrowed by a property criterion.
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"@a":"1"}).include("name","property")"#,
    )
    .await;
    assert_eq!(
        rows(&body),
        [
            json!({"name": "lib.jar", "properties": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]})
        ]
    );
    // Only `@b` included: other.txt, without it, is not a row; with all properties it is.
    let names = |body: String| -> Vec<String> {
        rows(&body)
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let q = r#"items.find({"repo":"generic-local"}).include("name","@b")"#;
    assert_eq!(names(aql(&s, ADMIN, q).await.1), ["lib.jar"]);
    let q = r#"items.find({"repo":"generic-local"}).include("name","@b","@zzz")"#;
    assert_eq!(names(aql(&s, ADMIN, q).await.1), ["lib.jar"]);
    let q = r#"items.find({"repo":"generic-local"}).include("name","property")"#;
    assert_eq!(names(aql(&s, ADMIN, q).await.1), ["lib.jar", "other.txt"]);
}

/// A stored build-info document with odd values is read without failing the query.
#[tokio::test]
async fn odd_build_info_documents_do_not_break_queries() {
    let s = start().await;
    s.deploy(
        "artifactory-build-info/x/1-1.json",
        json!({"name": "x", "number": "1", "started": "€€",
               "statuses": [{"status": "s", "timestamp": "2026-€€+0€0"}]})
        .to_string(),
    )
    .await;
    let (st, body) = aql(&s, ADMIN, r#"builds.find().include("name","started")"#).await;
    assert_eq!((st, rows(&body)), (200, vec![json!({"build.name": "x"})]));
    let (st, body) = aql(&s, ADMIN, r#"build.promotions.find()"#).await;
    assert_eq!(
        (st, rows(&body)),
        (200, vec![json!({"build.promotion.status": "s"})])
    );
}

/// Item rows are printed and sent in batches: a result larger than a batch arrives whole, in
/// order, in the same frame (the last, partial batch included); offset and limit pick the page
/// before it is printed. A row changed after the query is left out rather than shown changed.
#[tokio::test]
async fn large_item_results_arrive_whole_and_in_order() {
    let s = start().await;
    let n = 1203;
    let paths: Vec<String> = (0..n)
        .map(|i| format!("generic-local/bulk/f{i:05}.txt"))
        .collect();
    for chunk in paths.chunks(64) {
        futures_util::future::join_all(chunk.iter().map(|p| s.deploy(p, "x"))).await;
    }
    let (st, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"path":"bulk"}).sort({"$asc":["name"]})"#,
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        body.starts_with("\n{\n\"results\" : [ {\n"),
        "{:?}",
        &body[..40]
    );
    assert!(
        body.ends_with(&format!(
            " ],\n\"range\" : {{\n  \"start_pos\" : 0,\n  \"end_pos\" : {n},\n  \"total\" : {n}\n}}\n}}\n"
        )),
        "{:?}",
        &body[body.len() - 120..]
    );
    let names: Vec<String> = rows(&body)
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..n).map(|i| format!("f{i:05}.txt")).collect();
    assert_eq!(names, want);
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"path":"bulk"}).include("repo","path","name").sort({"$asc":["name"]}).offset(499).limit(3)"#,
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["results"],
        json!([
            {"repo": "generic-local", "path": "bulk", "name": "f00499.txt"},
            {"repo": "generic-local", "path": "bulk", "name": "f00500.txt"},
            {"repo": "generic-local", "path": "bulk", "name": "f00501.txt"}
        ])
    );
    assert_eq!(
        v["range"],
        json!({"start_pos": 499, "end_pos": 3, "total": 3, "limit": 3})
    );
}
