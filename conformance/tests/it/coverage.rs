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

/// Endpoints whose answer in a case run is only ever an error (what they would do needs something a
/// run has no way to provide), with why; every other implemented endpoint needs a success snapshot.
const ERROR_ONLY: &[(&str, &str)] = &[
    (
        "artifacts.bintray-docker-push",
        "Bintray was shut down in 2021: no push to it can succeed",
    ),
    (
        "system.licenses.install",
        "installing needs a licence key JFrog signed; a run has none",
    ),
];

#[test]
fn every_endpoint_the_reference_implements_has_snapshots() {
    let dir = default_snapshot_dir();
    let accepted = jcr_conformance::snapshot::accepted(&dir).unwrap();
    let endpoints = catalogue::endpoints();
    let mut missing = Vec::new();
    for e in endpoints.iter().filter(|e| e.reference) {
        let statuses: Vec<u64> = accepted
            .values()
            .filter(|s| s.endpoint == e.id)
            .filter_map(|s| s.snapshot["status"].as_u64())
            .collect();
        let error_only = ERROR_ONLY.iter().any(|(id, _)| *id == e.id);
        if !error_only && !statuses.iter().any(|s| *s < 400) {
            missing.push(format!("{}: no success snapshot", e.id));
        }
        if !statuses.iter().any(|s| *s >= 400) {
            missing.push(format!("{}: no error snapshot", e.id));
        }
    }
    for s in accepted.values() {
        assert!(
            endpoints.iter().any(|e| e.id == s.endpoint),
            "snapshot {} names unknown endpoint {}",
            s.name,
            s.endpoint
        );
        assert!(
            cases::all().iter().any(|c| c.id == s.case),
            "snapshot {} names unknown case {}",
            s.name,
            s.case
        );
    }
    assert!(
        missing.is_empty(),
        "{} gaps:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn captures_anchor_recorded_snapshots_and_cite_their_sources() {
    use jcr_conformance::snapshot;
    let dir = default_snapshot_dir();
    let captures = snapshot::captures(&dir).unwrap();
    let accepted = snapshot::accepted(&dir).unwrap();
    let fidelity = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../reference/FIDELITY.md"
    ))
    .unwrap();
    let headings: Vec<&str> = fidelity
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    assert!(captures.len() >= 30, "{} captures", captures.len());
    let mut problems = Vec::new();
    for (name, c) in &captures {
        if c.provenance["kind"] != "capture" || c.source().len() < 10 {
            problems.push(format!(
                "{name}: provenance must be a capture with a cited source"
            ));
        }
        for d in &c.differences {
            if !headings.contains(&d.fidelity.as_str()) {
                problems.push(format!("{name}: no FIDELITY.md section '{}'", d.fidelity));
            }
        }
        match accepted.get(name) {
            None => problems.push(format!("{name}: anchors no recorded snapshot")),
            Some(rec) => {
                for l in snapshot::capture_lines(c, &rec.snapshot) {
                    problems.push(format!("{name}: {l}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
