//! Property tests through HTTP: deploy then retrieve returns the same bytes for random paths and
//! contents; the registry never fails on input. (The parsers' own properties are unit tests.)

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
                    .go()
                    .await;
                prop_assert_eq!(r.status().as_u16(), 201, "PUT {}", path);
                let v: serde_json::Value = r.json();
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
                let got = r.bytes();
                prop_assert_eq!(got.as_ref(), body.as_slice());
                let r = s.admin(reqwest::Method::DELETE, &path).go().await;
                prop_assert_eq!(r.status().as_u16(), 204);
                let r = s.admin(reqwest::Method::DELETE, &root).go().await;
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
