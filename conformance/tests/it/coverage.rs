//! The catalogue and the cases agree: every implemented endpoint has a case, every documented usage line an endpoint.

use crate::common::*;

#[test]
fn every_endpoint_the_reference_implements_has_a_case() {
    let endpoints = catalogue::endpoints();
    let all = cases::all();
    for e in endpoints.iter().filter(|e| e.reference) {
        assert!(
            all.iter().any(|c| c.endpoints.contains(&e.id.as_str())),
            "no case covers {}",
            e.id
        );
    }
    for c in &all {
        for ep in &c.endpoints {
            assert!(
                endpoints.iter().any(|e| e.id == *ep),
                "case {} names unknown endpoint {ep}",
                c.id
            );
        }
    }
    let mut ids: Vec<&str> = all.iter().map(|c| c.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "case ids must be unique");
}

#[test]
fn the_catalogue_lists_every_documented_usage_line() {
    // Every "Usage: METHOD /path" of the API document has a catalogue entry with that method and path
    // prefix.
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/spec/jcr-rest-api.txt"
    ));
    let Ok(doc) = doc else { return };
    let endpoints = catalogue::endpoints();
    let mut missing = Vec::new();
    let mut checked = 0;
    for line in doc.lines() {
        let l = line
            .trim()
            .trim_start_matches("Usage")
            .trim_start_matches(':')
            .trim();
        let l = l.trim_start_matches(':').trim();
        let Some((method, rest)) = l.split_once(' ') else {
            continue;
        };
        let method = method.trim_end_matches(':');
        if !["GET", "PUT", "POST", "DELETE", "PATCH"].contains(&method)
            || !line.contains("Usage") && !line.starts_with(':')
        {
            continue;
        }
        let path = rest
            .trim()
            .trim_start_matches("api/")
            .split(['?', ' ', '[', '\u{a0}'])
            .next()
            .unwrap_or("")
            .to_string();
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/api/{path}")
        };
        let stem: String = path
            .split(['{', '<'])
            .next()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        let stem = if stem.starts_with("/repo-key") {
            "/{repo}".to_string()
        } else {
            stem
        };
        checked += 1;
        if !endpoints
            .iter()
            .any(|e| e.method == method && e.path.starts_with(&stem))
        {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not in fixtures/endpoints.toml: {missing:?}"
    );
    assert!(
        checked >= 60,
        "only {checked} usage lines recognised in the API document"
    );
}
