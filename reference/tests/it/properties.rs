//! Property tests: the path parser never panics and round-trips; deploy then retrieve returns the same
//! bytes for random paths and contents.

use jcr_reference::http::path;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use proptest::prelude::*;

use crate::common::*;

const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'/')
    .add(b';')
    .add(b'?')
    .add(b'#')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._~!%;,=+()'-]{1,12}|[\\p{L}]{1,6}"
        .prop_filter("not a dot segment", |s| s != "." && s != "..")
}

fn encode(segs: &[String]) -> String {
    segs.iter()
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

proptest! {
    #[test]
    fn parser_never_panics(s in "\\PC{0,64}") {
        let _ = path::parse(&s);
    }

    #[test]
    fn parser_round_trips(repo in "[a-z][a-z0-9-]{0,10}", segs in prop::collection::vec(segment(), 0..6), slash in any::<bool>()) {
        let raw = format!("{repo}/{}{}", encode(&segs), if slash && !segs.is_empty() { "/" } else { "" });
        let p = path::parse(&raw).unwrap();
        prop_assert_eq!(&p.repo, &repo);
        // `x!/y` is an archive entry; the parser re-joins it exactly.
        let joined = match &p.archive_entry { Some(e) => format!("{}!/{}", p.path, e), None => p.path.clone() };
        prop_assert_eq!(joined, segs.join("/"));
        prop_assert!(p.matrix.is_empty());
    }
}

#[test]
fn deploy_then_retrieve_returns_the_same_bytes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(start());
    // Deterministic, so CI runs the same 48 cases every time.
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig {
            cases: 48,
            ..ProptestConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let strategy = (
        prop::collection::vec(segment(), 1..5),
        prop::collection::vec(any::<u8>(), 0..70_000),
    );
    let counter = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&strategy, |(segs, body)| {
            // A trailing `!` segment followed by more would be an archive entry on GET; keep paths plain.
            prop_assume!(!segs.iter().any(|s| s.ends_with('!')));
            // Each case under a folder of its own: folders left by earlier cases must not collide.
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let root = format!("generic-local/case{n}");
            let path = format!("{root}/{}", encode(&segs));
            rt.block_on(async {
                let r = s
                    .admin(reqwest::Method::PUT, &path)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                prop_assert_eq!(r.status().as_u16(), 201, "PUT {}", path);
                let v: serde_json::Value = r.json().await.unwrap();
                prop_assert_eq!(
                    v["path"].as_str().unwrap(),
                    format!("/case{n}/{}", segs.join("/"))
                );
                prop_assert_eq!(
                    v["checksums"]["sha256"].as_str().unwrap(),
                    sha256_hex(&body)
                );
                let r = s.get(&path).await;
                prop_assert_eq!(r.status().as_u16(), 200);
                let got = r.bytes().await.unwrap();
                prop_assert_eq!(got.as_ref(), body.as_slice());
                let r = s
                    .admin(reqwest::Method::DELETE, &path)
                    .send()
                    .await
                    .unwrap();
                prop_assert_eq!(r.status().as_u16(), 204);
                let r = s
                    .admin(reqwest::Method::DELETE, &root)
                    .send()
                    .await
                    .unwrap();
                prop_assert_eq!(r.status().as_u16(), 204);
                Ok(())
            })
        })
        .unwrap();
}

/// Random registry paths, methods, headers and bodies through both access methods: never a 5xx, never
/// a dropped connection, always the registry's error shape or success.
#[test]
fn the_registry_never_fails_on_input() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(start());
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig {
            cases: 200,
            ..ProptestConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let word = prop_oneof![
        Just("manifests".to_string()),
        Just("blobs".to_string()),
        Just("uploads".to_string()),
        Just("tags".to_string()),
        Just("list".to_string()),
        Just("referrers".to_string()),
        Just("_catalog".to_string()),
        Just("sha256:abc".to_string()),
        Just(format!("sha256:{}", "a".repeat(64))),
        Just("%2e%2e".to_string()),
        Just("docker-local".to_string()),
        "[a-zA-Z0-9._%-]{1,12}",
    ];
    let strategy = (
        prop::collection::vec(word, 0..7),
        prop_oneof![
            Just("GET"),
            Just("HEAD"),
            Just("PUT"),
            Just("POST"),
            Just("PATCH"),
            Just("DELETE")
        ],
        any::<bool>(),
        "[ -~]{0,24}",
        prop::collection::vec(any::<u8>(), 0..64),
    );
    runner
        .run(&strategy, |(segs, method, api, header_value, body)| {
            let url = if api {
                format!("{}/api/docker/docker-local/v2/{}", s.base, segs.join("/"))
            } else {
                format!("http://{}/v2/{}", s.server.addr(), segs.join("/"))
            };
            rt.block_on(async {
                let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let r = s
                    .client
                    .request(m, &url)
                    .basic_auth("admin", Some("password"))
                    .header("content-range", header_value.clone())
                    .header("content-type", header_value.clone())
                    .header("accept", header_value.clone())
                    .body(body.clone())
                    .send()
                    .await;
                let r = match r {
                    Ok(r) => r,
                    Err(e) => return Err(TestCaseError::fail(format!("{method} {url}: {e}"))),
                };
                prop_assert!(
                    r.status().as_u16() < 500,
                    "{} {} gave {}",
                    method,
                    url,
                    r.status()
                );
                Ok(())
            })
        })
        .unwrap();
}

const AQL_SEEDS: [&str; 4] = [
    r#"items.find({"repo":"libs","$or":[{"name":{"$match":"*.jar"}},{"@license":"MIT"}]}).include("name","@license").sort({"$desc":["size"]}).offset(5).limit(10)"#,
    r#"builds.find({"name":{"$eq":"b"},"created":{"$last":"3d"}}).limit(1)"#,
    r#"archive.entries.find({"name":{"$nmatch":"*.class"},"archive.item.repo":null})"#,
    r#"items.find({"$and":[{"size":{"$gt":1,"$lte":20}},{"$msp":[{"@a":"1"},{"@b":{"$ne":"2"}}]}]}).transitive().distinct(true)"#,
];

/// The AQL parser never panics, on random text or on valid queries with characters inserted,
/// removed or replaced; what it accepts is a query, what it refuses names the remainder.
#[test]
fn the_aql_parser_never_panics() {
    use jcr_reference::search::aql;
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig {
            cases: 2000,
            ..ProptestConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let mutated = (
        0..AQL_SEEDS.len(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, "\\PC"), 1..6),
    )
        .prop_map(|(seed, edits)| {
            let mut chars: Vec<char> = AQL_SEEDS[seed].chars().collect();
            for (at, kind, text) in edits {
                let i = at.index(chars.len() + 1);
                let c = text.chars().next().unwrap_or('x');
                match kind {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ if i < chars.len() => chars[i] = c,
                    _ => {}
                }
            }
            chars.into_iter().collect::<String>()
        });
    let strategy = prop_oneof!["\\PC{0,200}", mutated];
    runner
        .run(&strategy, |q| {
            match aql::parse(&q) {
                Ok(parsed) => prop_assert!(aql::DOMAINS.contains(&parsed.domain.as_str())),
                Err(e) => prop_assert!(
                    e.0.starts_with(&format!("Failed to parse query: {q}, it looks like there is syntax error near the following sub-query: ")),
                    "{}",
                    e.0
                ),
            }
            Ok(())
        })
        .unwrap();
    for q in AQL_SEEDS {
        assert!(aql::parse(q).is_ok(), "{q}");
    }
}
