//! The legacy searches: quick, property, not-downloaded-since, dates and creation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

async fn results(r: Answer) -> Vec<Value> {
    assert_eq!(r.status(), 200);
    r.json::<Value>()["results"].as_array().unwrap().clone()
}

fn uris(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["uri"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn quick_search_by_name_with_details() {
    let s = start_with(with_bob).await;
    s.deploy("generic-local/org/acme/lib-1.0.jar;build=7", "a")
        .await;
    s.deploy("generic-local/org/acme/LIB-2.0.pom", "b").await;
    s.deploy("helm-local/other-lib.tgz", crate::retrieve::tgz_bytes())
        .await;
    s.deploy("generic-local/unrelated.txt", "d").await;
    let base = &s.base;
    let r = s.get("api/search/artifact?name=lib").await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.artifactory.search.ArtifactSearchResult+json")
    );
    assert_eq!(
        uris(&results(r).await),
        [
            format!("{base}/api/storage/generic-local/org/acme/LIB-2.0.pom"),
            format!("{base}/api/storage/generic-local/org/acme/lib-1.0.jar"),
            format!("{base}/api/storage/helm-local/other-lib.tgz"),
        ]
    );
    let rows = results(
        s.admin(
            Method::GET,
            "api/search/artifact?name=lib-1*&repos=generic-local",
        )
        .header("X-Result-Detail", "info, properties")
        .go()
        .await,
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["properties"], json!({"build": ["7"]}));
    assert_eq!(rows[0]["size"], "1");
    assert_eq!(rows[0]["repo"], "generic-local");
    assert_eq!(rows[0]["checksums"]["sha1"], sha1_hex(b"a"));
    // The details may come on separate lines.
    let rows = results(
        s.admin(
            Method::GET,
            "api/search/artifact?name=lib-1*&repos=generic-local",
        )
        .header("X-Result-Detail", "info")
        .header("X-Result-Detail", "properties")
        .go()
        .await,
    )
    .await;
    assert_eq!(rows[0]["properties"], json!({"build": ["7"]}));
    assert_eq!(rows[0]["size"], "1");
    // No hits: 200 with an empty list.
    assert!(
        results(s.get("api/search/artifact?name=nothing-like-this").await)
            .await
            .is_empty()
    );
    for (q, text) in [
        ("", "The search term cannot be empty"),
        ("?name=", "The search term cannot be empty"),
        (
            "?name=**",
            "Search term containing only wildcards is not permitted",
        ),
    ] {
        let r = s.get(&format!("api/search/artifact{q}")).await;
        let (st, h, body) = parts(r).await;
        assert_eq!((st, body.as_str()), (400, text));
        assert_eq!(header(&h, "content-type"), Some("text/plain"));
    }
}

#[tokio::test]
async fn property_search_and_permissions() {
    let s = start_with(|c| {
        c.users.push(user("carol", Some(&[])));
        c.permissions.push(target(
            "pub",
            "generic-local",
            "public/**",
            &[("carol", "r")],
        ));
    })
    .await;
    s.deploy("generic-local/public/a.txt;os=linux;arch=x64", "a")
        .await;
    s.deploy("generic-local/secret/b.txt;os=linux", "b").await;
    s.deploy("generic-local/public/c.txt;os=windows", "c").await;
    let base = &s.base;
    let r = s.get("api/search/prop?os=linux").await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.artifactory.search.MetadataSearchResult+json")
    );
    assert_eq!(
        uris(&results(r).await),
        [
            format!("{base}/api/storage/generic-local/public/a.txt"),
            format!("{base}/api/storage/generic-local/secret/b.txt"),
        ]
    );
    assert_eq!(
        uris(&results(s.get("api/search/prop?os=linux,windows&arch").await).await).len(),
        1
    );
    assert_eq!(
        uris(&results(s.get("api/search/prop?os=win*").await).await).len(),
        1
    );
    assert!(results(s.get("api/search/prop?os=solaris").await)
        .await
        .is_empty());
    assert_rest_error(s.get("api/search/prop").await, 404, "No results found.").await;
    // Carol sees only what she may read.
    let rows = results(
        s.basic(Method::GET, "api/search/prop?os=linux", "carol", "carol-pw")
            .go()
            .await,
    )
    .await;
    assert_eq!(
        uris(&rows),
        [format!("{base}/api/storage/generic-local/public/a.txt")]
    );
    let rows = results(
        s.basic(
            Method::GET,
            "api/search/artifact?name=txt",
            "carol",
            "carol-pw",
        )
        .go()
        .await,
    )
    .await;
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn date_searches_usage_and_their_errors() {
    let s = start_with(|c| c.anonymous_access = true).await;
    s.deploy("generic-local/old.jar", "o").await;
    s.clock.advance(10_000);
    s.deploy("generic-local/new.jar", "n").await;
    s.clock.advance(10_000);
    // Download the new one.
    assert_eq!(s.get("generic-local/new.jar").await.status(), 200);
    let base = &s.base;
    let r = s
        .get(&format!(
            "api/search/creation?from={}&to={}",
            T0 + 5_000,
            T0 + 15_000
        ))
        .await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.artifactory.search.ArtifactCreationResult+json")
    );
    assert_eq!(
        results(r).await,
        [
            json!({"uri": format!("{base}/api/storage/generic-local/new.jar"), "created": "2023-11-14T22:13:30.123Z"})
        ]
    );
    // ISO dates work too.
    let rows = results(
        s.get("api/search/creation?from=2023-11-14T22:13:20.000Z")
            .await,
    )
    .await;
    assert_eq!(rows.len(), 2);
    let rows = results(
        s.get(&format!(
            "api/search/dates?from={}&dateFields=lastDownloaded,created",
            T0 + 15_000
        ))
        .await,
    )
    .await;
    assert_eq!(
        rows,
        [
            json!({"uri": format!("{base}/api/storage/generic-local/new.jar"), "lastDownloaded": "2023-11-14T22:13:40.123Z", "created": "2023-11-14T22:13:30.123Z"})
        ]
    );
    let rows = results(
        s.get(&format!(
            "api/search/usage?notUsedSince={}&repos=generic-local",
            T0 + 30_000
        ))
        .await,
    )
    .await;
    assert_eq!(
        rows,
        [
            // Never downloaded: the creation time stands for the last download (Artifactory's
            // StatsSearchResult), remote downloads are none.
            json!({"uri": format!("{base}/api/storage/generic-local/old.jar"), "downloadCount": 0,
                   "lastDownloaded": "2023-11-14T22:13:20.123Z", "remoteDownloadCount": 0,
                   "remoteLastDownloaded": "1970-01-01T00:00:00.000Z"}),
            json!({"uri": format!("{base}/api/storage/generic-local/new.jar"), "downloadCount": 1,
                   "lastDownloaded": "2023-11-14T22:13:40.123Z", "remoteDownloadCount": 0,
                   "remoteLastDownloaded": "1970-01-01T00:00:00.000Z"})
        ]
    );
    // No hits: 404, unlike the quick search.
    assert_rest_error(
        s.get(&format!("api/search/creation?from={}", T0 + 1_000_000))
            .await,
        404,
        "No results found.",
    )
    .await;
    assert_rest_error(
        s.get("api/search/creation").await,
        400,
        "'from' parameter cannot be empty!",
    )
    .await;
    assert_rest_error(
        s.get("api/search/dates?from=1").await,
        400,
        "'dateFields' parameter cannot be empty!",
    )
    .await;
    assert_rest_error(
        s.get("api/search/usage").await,
        400,
        "'notUsedSince' parameter cannot be empty!",
    )
    .await;
    assert_rest_error(
        s.get("api/search/dates?from=1&dateFields=deleted").await,
        400,
        "Invalid date field 'deleted' (expected created, lastModified or lastDownloaded)",
    )
    .await;
    assert_rest_error(
        s.get("api/search/creation?from=yesterday").await,
        400,
        "Invalid value for 'from': yesterday (expected epoch milliseconds or an ISO 8601 date)",
    )
    .await;
    // Anonymous callers may quick-search but not use the date searches.
    assert_eq!(
        s.anon(Method::GET, "api/search/artifact?name=jar")
            .go()
            .await
            .status(),
        200
    );
    let r = s.anon(Method::GET, "api/search/creation?from=1").go().await;
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        Some("Basic realm=\"Artifactory Realm\"")
    );
    assert_rest_error(r, 401, "Unauthorized").await;
}

#[tokio::test]
async fn archive_entries_search_over_jars_and_tarballs() {
    let s = start().await;
    s.deploy("generic-local/lib/a.jar", crate::retrieve::zip_bytes())
        .await;
    s.deploy(
        "generic-local/lib/copy-of-a.jar",
        crate::retrieve::zip_bytes(),
    )
    .await;
    s.deploy("helm-local/chart-1.0.tgz", crate::retrieve::tgz_bytes())
        .await;
    s.deploy("generic-local/not-really.zip", "plain text").await;
    let base = &s.base;
    // Archives are indexed just after they are deployed.
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = results(s.get("api/search/archive?name=*.txt").await).await;
        if rows
            .first()
            .is_some_and(|r| r["archiveUris"].as_array().unwrap().len() == 2)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        rows,
        [json!({"entry": "META-INF/LICENSE.txt", "archiveUris": [
            format!("{base}/api/storage/generic-local/lib/a.jar"),
            format!("{base}/api/storage/generic-local/lib/copy-of-a.jar"),
        ]})]
    );
    let r = s
        .get("api/search/archive?name=chart.yaml&repos=helm-local")
        .await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.artifactory.search.ArchiveEntrySearchResult+json")
    );
    assert_eq!(
        results(r).await,
        [
            json!({"entry": "chart/Chart.yaml", "archiveUris": [format!("{base}/api/storage/helm-local/chart-1.0.tgz")]})
        ]
    );
    assert!(
        results(s.get("api/search/archive?name=Nothing.class").await)
            .await
            .is_empty()
    );
    let r = s.get("api/search/archive?name=*").await;
    let (st, _, body) = parts(r).await;
    assert_eq!(
        (st, body.as_str()),
        (
            400,
            "Search term containing only wildcards is not permitted"
        )
    );
}

/// An archive past the index caps (here 9 MiB of entry names in a small tarball) is not indexed,
/// and nothing of it reaches the journal; the artifact stays and its entries can still be read.
#[tokio::test]
async fn archives_past_the_index_caps_are_kept_but_not_indexed() {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut add = |path: String, data: &[u8]| {
        let mut hdr = tar::Header::new_gnu();
        hdr.set_size(data.len() as u64);
        hdr.set_mode(0o644);
        builder.append_data(&mut hdr, path, data).unwrap();
    };
    add("short.txt".into(), b"short");
    for i in 0..90 {
        add(format!("{i}-{}", "n".repeat(100 << 10)), b"x");
    }
    let big = builder.into_inner().unwrap().finish().unwrap();
    assert!(big.len() < 1 << 20, "{}", big.len());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    s.deploy("generic-local/caps/long-names.tgz", big).await;
    s.deploy("generic-local/caps/later.tgz", crate::retrieve::tgz_bytes())
        .await;
    // The later archive is indexed: the one before it has been dealt with too.
    let mut rows = Vec::new();
    for _ in 0..500 {
        rows = results(s.get("api/search/archive?name=Chart.yaml").await).await;
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(rows.len(), 1);
    // Archives are indexed several at a time: give the big one its time.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(results(s.get("api/search/archive?name=short.txt").await)
        .await
        .is_empty());
    assert_eq!(
        s.get("generic-local/caps/long-names.tgz!/short.txt")
            .await
            .text(),
        "short"
    );
    let journal = std::fs::metadata(data.join("meta/journal.log"))
        .unwrap()
        .len();
    assert!(journal < 1 << 20, "the journal grew to {journal} bytes");
}
