//! Reports of a run: `results.json` (configuration with secrets masked, outcome per case, per endpoint,
//! per area, timings), `junit.xml`, `report.md`, a self-contained `report.html`; and the diff of two
//! `results.json` files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::case::Outcome;
use crate::catalogue::Endpoint;
use crate::runner::RunResult;

/// Counts per outcome.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// Disabled.
    pub disabled: usize,
    /// Skipped.
    pub skip: usize,
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Errored.
    pub error: usize,
}

impl Counts {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Disabled => self.disabled += 1,
            Outcome::Skip => self.skip += 1,
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Error => self.error += 1,
        }
    }
}

/// The outcome of an endpoint: the worst outcome of the cases covering it; `None` when no case does.
pub fn endpoint_outcomes(
    result: &RunResult,
    endpoints: &[Endpoint],
) -> Vec<(Endpoint, Option<Outcome>, Vec<String>)> {
    endpoints
        .iter()
        .map(|e| {
            let cases: Vec<&crate::runner::CaseResult> = result
                .cases
                .iter()
                .filter(|c| c.endpoints.contains(&e.id))
                .collect();
            let worst = cases.iter().map(|c| c.outcome).max();
            (
                e.clone(),
                worst,
                cases.iter().map(|c| c.id.clone()).collect(),
            )
        })
        .collect()
}

/// The `results.json` document.
pub fn results_json(result: &RunResult, endpoints: &[Endpoint], config: Value) -> Value {
    let mut summary = Counts::default();
    let mut areas: BTreeMap<String, Counts> = BTreeMap::new();
    for c in &result.cases {
        summary.add(c.outcome);
        areas.entry(c.area.clone()).or_default().add(c.outcome);
    }
    let eps: Vec<Value> = endpoint_outcomes(result, endpoints)
        .into_iter()
        .map(|(e, o, cases)| {
            json!({
                "id": e.id, "method": e.method, "path": e.path, "area": e.area, "section": e.section,
                "outcome": o.map(|o| o.as_str()).unwrap_or("uncovered"), "cases": cases,
            })
        })
        .collect();
    json!({
        "run_id": result.run_id,
        "started": result.started,
        "duration_ms": result.duration_ms,
        "seed": result.seed,
        "config": config,
        "summary": summary,
        "snapshots": snapshot_counts(result),
        "areas": areas,
        "endpoints": eps,
        "cases": result.cases,
        "teardown_errors": result.teardown_errors,
    })
}

/// How the snapshots of a run came out: `{"match": n, "mismatch": n, "missing": n, ...,
/// "capture_differs": n}`.
pub fn snapshot_counts(result: &RunResult) -> Value {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in result.cases.iter().flat_map(|c| &c.snapshots) {
        let status = serde_json::to_value(s.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *counts.entry(status).or_default() += 1;
        if !s.capture_lines.is_empty() {
            *counts.entry("capture_differs".into()).or_default() += 1;
        }
        if s.capture.is_some() {
            *counts.entry("with_capture".into()).or_default() += 1;
        }
    }
    json!(counts)
}

/// The snapshots of a run that fail their case: `(case, snapshot)`.
fn failing_snapshots(result: &RunResult) -> Vec<(&str, &crate::case::SnapshotResult)> {
    result
        .cases
        .iter()
        .flat_map(|c| c.snapshots.iter().map(move |s| (c.id.as_str(), s)))
        .filter(|(_, s)| s.fails())
        .collect()
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one testsuite per area, one testcase per case (names are the unique case ids).
pub fn junit(result: &RunResult) -> String {
    let mut by_area: BTreeMap<&str, Vec<&crate::runner::CaseResult>> = BTreeMap::new();
    for c in &result.cases {
        by_area.entry(&c.area).or_default().push(c);
    }
    let total = result.cases.len();
    let failures = result
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .count();
    let errors = result
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Error)
        .count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"jcr-conformance\" tests=\"{total}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
        result.duration_ms as f64 / 1000.0
    );
    for (area, cases) in by_area {
        let f = cases.iter().filter(|c| c.outcome == Outcome::Fail).count();
        let e = cases.iter().filter(|c| c.outcome == Outcome::Error).count();
        let s = cases.iter().filter(|c| c.outcome <= Outcome::Skip).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\">\n",
            xml(area),
            cases.len()
        ));
        for c in cases {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&c.area),
                xml(&c.id),
                c.duration_ms as f64 / 1000.0
            ));
            let msg = xml(c.message.as_deref().unwrap_or(""));
            match c.outcome {
                Outcome::Pass => out.push_str("/>\n"),
                Outcome::Skip | Outcome::Disabled => out.push_str(&format!(
                    ">\n      <skipped message=\"{}: {msg}\"/>\n    </testcase>\n",
                    c.outcome.as_str()
                )),
                Outcome::Fail => out.push_str(&format!(
                    ">\n      <failure message=\"{msg}\">{}</failure>\n    </testcase>\n",
                    xml(&transcript_text(c))
                )),
                Outcome::Error => out.push_str(&format!(
                    ">\n      <error message=\"{msg}\">{}</error>\n    </testcase>\n",
                    xml(&transcript_text(c))
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn transcript_text(c: &crate::runner::CaseResult) -> String {
    let mut s = String::new();
    for e in &c.transcript {
        s.push_str(&format!("> {}\n", e.request));
        for (k, v) in &e.request_headers {
            s.push_str(&format!("> {k}: {v}\n"));
        }
        if !e.request_body.is_empty() {
            s.push_str(&format!(">\n{}\n", e.request_body));
        }
        s.push_str(&format!("< {}\n", e.status));
        for (k, v) in &e.response_headers {
            s.push_str(&format!("< {k}: {v}\n"));
        }
        if !e.response_body.is_empty() {
            s.push_str(&format!("<\n{}\n", e.response_body));
        }
        s.push('\n');
    }
    s
}

/// A Markdown summary.
pub fn markdown(result: &RunResult, endpoints: &[Endpoint]) -> String {
    let mut c = Counts::default();
    result.cases.iter().for_each(|r| c.add(r.outcome));
    let mut out = format!(
        "# Conformance run {}\n\nStarted {}, {:.1} s. **{} pass, {} fail, {} error, {} skip, {} disabled.**\n\n## Cases\n\n| case | outcome | message |\n| --- | --- | --- |\n",
        result.run_id,
        result.started,
        result.duration_ms as f64 / 1000.0,
        c.pass,
        c.fail,
        c.error,
        c.skip,
        c.disabled
    );
    for r in &result.cases {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            r.id,
            r.outcome.as_str(),
            r.message
                .as_deref()
                .unwrap_or("")
                .replace('|', "\\|")
                .replace('\n', " ")
        ));
    }
    out.push_str(
        "\n## Endpoints\n\n| endpoint | method | path | outcome |\n| --- | --- | --- | --- |\n",
    );
    for (e, o, _) in endpoint_outcomes(result, endpoints) {
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} |\n",
            e.id,
            e.method,
            e.path,
            o.map(|o| o.as_str()).unwrap_or("uncovered")
        ));
    }
    let snaps = failing_snapshots(result);
    let taken = result
        .cases
        .iter()
        .map(|c| c.snapshots.len())
        .sum::<usize>();
    out.push_str(&format!(
        "\n## Snapshots\n\n{taken} taken, {} differ from their accepted snapshot or capture.\n",
        snaps.len()
    ));
    for (case, s) in snaps {
        out.push_str(&format!(
            "\n### `{}` (case `{case}`)\n\n```\n{}\n```\n",
            s.name,
            s.explain()
        ));
    }
    if !result.teardown_errors.is_empty() {
        out.push_str("\n## Teardown problems\n\n");
        for e in &result.teardown_errors {
            out.push_str(&format!("- {e}\n"));
        }
    }
    out
}

/// A self-contained HTML report: an endpoint-by-outcome matrix and transcripts of failures.
pub fn html(result: &RunResult, endpoints: &[Endpoint]) -> String {
    let color = |o: Option<Outcome>| match o {
        Some(Outcome::Pass) => "#2e7d32",
        Some(Outcome::Fail) => "#c62828",
        Some(Outcome::Error) => "#6a1b9a",
        Some(Outcome::Skip) => "#f9a825",
        Some(Outcome::Disabled) => "#9e9e9e",
        None => "#757575",
    };
    let mut c = Counts::default();
    result.cases.iter().for_each(|r| c.add(r.outcome));
    let mut rows = String::new();
    let mut last_area = String::new();
    for (e, o, cases) in endpoint_outcomes(result, endpoints) {
        if e.area != last_area {
            rows.push_str(&format!(
                "<tr><th colspan=\"4\" class=\"area\">{}</th></tr>\n",
                xml(&e.area)
            ));
            last_area = e.area.clone();
        }
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{} <code>{}</code></td><td><span class=\"cell\" style=\"background:{}\">{}</span></td><td>{}</td></tr>\n",
            xml(&e.id),
            xml(&e.method),
            xml(&e.path),
            color(o),
            o.map(|o| o.as_str()).unwrap_or("uncovered"),
            cases.iter().map(|c| format!("<a href=\"#{0}\">{0}</a>", xml(c))).collect::<Vec<_>>().join("<br>")
        ));
    }
    // At a glance: endpoints per area by outcome.
    let mut glance: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for (e, o, _) in endpoint_outcomes(result, endpoints) {
        *glance
            .entry(e.area.clone())
            .or_default()
            .entry(o.map(|o| o.as_str()).unwrap_or("uncovered"))
            .or_default() += 1;
    }
    let kinds = ["pass", "fail", "error", "skip", "disabled", "uncovered"];
    let mut summary = String::from("<table><tr><th>area</th>");
    for k in kinds {
        summary.push_str(&format!("<th>{k}</th>"));
    }
    summary.push_str("</tr>\n");
    for (area, counts) in &glance {
        summary.push_str(&format!("<tr><td>{}</td>", xml(area)));
        for k in kinds {
            let n = counts.get(k).copied().unwrap_or(0);
            let o = [
                Outcome::Pass,
                Outcome::Fail,
                Outcome::Error,
                Outcome::Skip,
                Outcome::Disabled,
            ]
            .into_iter()
            .find(|o| o.as_str() == k);
            if n == 0 {
                summary.push_str("<td></td>");
            } else {
                summary.push_str(&format!(
                    "<td><span class=\"cell\" style=\"background:{}\">{n}</span></td>",
                    color(o)
                ));
            }
        }
        summary.push_str("</tr>\n");
    }
    summary.push_str("</table>\n");
    let mut details = String::new();
    for r in &result.cases {
        details.push_str(&format!(
            "<div class=\"case\" id=\"{}\"><span class=\"cell\" style=\"background:{}\">{}</span> <code>{}</code> <small>{} ms · {}</small>",
            xml(&r.id),
            color(Some(r.outcome)),
            r.outcome.as_str(),
            xml(&r.id),
            r.duration_ms,
            xml(&r.spec)
        ));
        if let Some(m) = &r.message {
            details.push_str(&format!("<p>{}</p>", xml(m)));
        }
        if !r.transcript.is_empty() {
            details.push_str(&format!(
                "<details open><summary>transcript</summary><pre>{}</pre></details>",
                xml(&transcript_text(r))
            ));
        }
        details.push_str("</div>\n");
    }
    let failing = failing_snapshots(result);
    let taken = result
        .cases
        .iter()
        .map(|c| c.snapshots.len())
        .sum::<usize>();
    let mut snapshots = format!(
        "<p>{taken} taken, {} differ from their accepted snapshot or capture.</p>\n",
        failing.len()
    );
    for (case, s) in failing {
        snapshots.push_str(&format!(
            "<div class=\"case\"><code>{}</code> <small>case <a href=\"#{case}\">{case}</a></small><pre>{}</pre></div>\n",
            xml(&s.name),
            xml(&s.explain()),
            case = xml(case)
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Conformance {id}</title><style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}td,th{{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}}\
th.area{{background:#f5f5f5;text-transform:uppercase;font-size:90%}}.cell{{color:#fff;padding:1px 8px;border-radius:3px;font-size:90%}}\
.case{{margin:.6em 0;padding:.4em;border-left:3px solid #ddd}}pre{{background:#fafafa;padding:.6em;overflow:auto;max-height:30em}}\
</style></head><body>\n<h1>Conformance run <code>{id}</code></h1>\n<p>Started {started}, {secs:.1} s. <b>{pass} pass, {fail} fail, {error} error, {skip} skip, {disabled} disabled.</b></p>\n\
<h2>Endpoints by area</h2>\n{summary}<h2>Endpoints</h2>\n<table><tr><th>endpoint</th><th>request</th><th>outcome</th><th>cases</th></tr>\n{rows}</table>\n<h2>Snapshots</h2>\n{snapshots}<h2>Cases</h2>\n{details}</body></html>\n",
        id = xml(&result.run_id),
        started = xml(&result.started),
        secs = result.duration_ms as f64 / 1000.0,
        pass = c.pass,
        fail = c.fail,
        error = c.error,
        skip = c.skip,
        disabled = c.disabled,
    )
}

/// Writes all four reports to `dir/<run-id>/` and copies them to `dir/latest/`. Returns the run folder.
pub fn write_all(
    dir: &Path,
    result: &RunResult,
    endpoints: &[Endpoint],
    config: Value,
) -> std::io::Result<PathBuf> {
    let run_dir = dir.join(&result.run_id);
    let latest = dir.join("latest");
    for d in [&run_dir, &latest] {
        std::fs::create_dir_all(d)?;
        let json = serde_json::to_string_pretty(&results_json(result, endpoints, config.clone()))
            .map_err(std::io::Error::other)?;
        std::fs::write(d.join("results.json"), json)?;
        std::fs::write(d.join("junit.xml"), junit(result))?;
        std::fs::write(d.join("report.md"), markdown(result, endpoints))?;
        std::fs::write(d.join("report.html"), html(result, endpoints))?;
    }
    Ok(run_dir)
}

/// What changed between two runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Cases that passed (or were new) and now fail or error: `(id, old, new)`.
    pub regressed: Vec<(String, String, String)>,
    /// Cases that failed or errored and now pass.
    pub fixed: Vec<(String, String, String)>,
    /// Other changes (skip/disabled transitions, added and removed cases).
    pub changed: Vec<(String, String, String)>,
    /// Snapshots whose answer changed between the runs: `(name, JSON-path lines)`; a snapshot only
    /// one run took has the line `+ taken` or `- taken`.
    pub snapshots: Vec<(String, Vec<String>)>,
}

/// Compares two `results.json` documents.
pub fn diff(old: &Value, new: &Value) -> Diff {
    let outcomes = |v: &Value| -> BTreeMap<String, String> {
        v["cases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| {
                        Some((
                            c["id"].as_str()?.to_string(),
                            c["outcome"].as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (o, n) = (outcomes(old), outcomes(new));
    let bad = |s: &str| s == "fail" || s == "error";
    let mut d = Diff::default();
    for (id, new_o) in &n {
        match o.get(id) {
            None if bad(new_o) => d
                .regressed
                .push((id.clone(), "absent".into(), new_o.clone())),
            None => d.changed.push((id.clone(), "absent".into(), new_o.clone())),
            Some(old_o) if old_o == new_o => {}
            Some(old_o) if bad(new_o) && !bad(old_o) => {
                d.regressed.push((id.clone(), old_o.clone(), new_o.clone()))
            }
            Some(old_o) if bad(old_o) && new_o == "pass" => {
                d.fixed.push((id.clone(), old_o.clone(), new_o.clone()))
            }
            Some(old_o) => d.changed.push((id.clone(), old_o.clone(), new_o.clone())),
        }
    }
    for (id, old_o) in &o {
        if !n.contains_key(id) {
            d.changed.push((id.clone(), old_o.clone(), "absent".into()));
        }
    }
    let documents = |v: &Value| -> BTreeMap<String, Value> {
        v["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["snapshots"].as_array().into_iter().flatten())
            .filter_map(|s| Some((s["name"].as_str()?.to_string(), s["document"].clone())))
            .collect()
    };
    let (so, sn) = (documents(old), documents(new));
    for (name, doc) in &sn {
        match so.get(name) {
            None => d.snapshots.push((name.clone(), vec!["+ taken".into()])),
            Some(before) => {
                let lines = crate::snapshot::diff_lines(before, doc);
                if !lines.is_empty() {
                    d.snapshots.push((name.clone(), lines));
                }
            }
        }
    }
    for name in so.keys().filter(|n| !sn.contains_key(*n)) {
        d.snapshots.push((name.clone(), vec!["- taken".into()]));
    }
    d
}

/// Joins the `results.json` of the shards of one run (`--shard i/n`) into one result: every case
/// once, in catalogue order (`order`), the earliest start, the longest duration (shards run side
/// by side), all teardown errors, the first shard's configuration with the shards' run ids added.
/// A case in two shards, or shards of different seeds, is an error.
pub fn merge(shards: &[Value], order: &[&str]) -> Result<(RunResult, Value), String> {
    let mut cases: Vec<crate::runner::CaseResult> = Vec::new();
    let mut teardown_errors = Vec::new();
    let (mut started, mut duration_ms, mut ids) = (String::new(), 0u64, Vec::new());
    let seed = shards.first().and_then(|s| s["seed"].as_u64()).unwrap_or(0);
    for s in shards {
        if s["seed"].as_u64() != Some(seed) {
            return Err(format!("shard {} ran with another seed", s["run_id"]));
        }
        let these: Vec<crate::runner::CaseResult> =
            serde_json::from_value(s["cases"].clone()).map_err(|e| format!("cases: {e}"))?;
        for c in these {
            if cases.iter().any(|x| x.id == c.id) {
                return Err(format!("case {} is in two shards", c.id));
            }
            cases.push(c);
        }
        let st = s["started"].as_str().unwrap_or("").to_string();
        if started.is_empty() || st < started {
            started = st;
        }
        duration_ms = duration_ms.max(s["duration_ms"].as_u64().unwrap_or(0));
        teardown_errors.extend(
            s["teardown_errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_string)),
        );
        ids.push(s["run_id"].clone());
    }
    let rank = |id: &str| order.iter().position(|o| *o == id).unwrap_or(usize::MAX);
    cases.sort_by_key(|c| rank(&c.id));
    let mut config = shards
        .first()
        .map(|s| s["config"].clone())
        .unwrap_or(Value::Null);
    if let Some(o) = config.as_object_mut() {
        o.insert("merged_from".into(), Value::Array(ids.clone()));
    }
    let run_id = format!(
        "{}-merged",
        ids.first().and_then(|v| v.as_str()).unwrap_or("run")
    );
    Ok((
        RunResult {
            run_id,
            started,
            duration_ms,
            cases,
            teardown_errors,
            seed,
        },
        config,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_classifies_transitions() {
        let old = json!({"cases": [
            {"id": "a", "outcome": "pass"}, {"id": "b", "outcome": "fail"}, {"id": "c", "outcome": "skip"}, {"id": "gone", "outcome": "pass"}
        ]});
        let new = json!({"cases": [
            {"id": "a", "outcome": "fail"}, {"id": "b", "outcome": "pass"}, {"id": "c", "outcome": "pass"}, {"id": "new", "outcome": "error"}
        ]});
        let d = diff(&old, &new);
        assert_eq!(
            d.regressed,
            vec![
                ("a".into(), "pass".into(), "fail".into()),
                ("new".into(), "absent".into(), "error".into())
            ]
        );
        assert_eq!(d.fixed, vec![("b".into(), "fail".into(), "pass".into())]);
        assert_eq!(
            d.changed,
            vec![
                ("c".into(), "skip".into(), "pass".into()),
                ("gone".into(), "pass".into(), "absent".into())
            ]
        );
    }

    #[test]
    fn diff_reports_what_changed_in_the_snapshots() {
        let doc = |size: &str, order_swapped: bool| {
            if order_swapped {
                json!({"status": 200, "body": {"path": "/a", "repo": "r", "size": size}})
            } else {
                json!({"status": 200, "body": {"repo": "r", "path": "/a", "size": size}})
            }
        };
        let run =
            |snaps: Value| json!({"cases": [{"id": "a", "outcome": "pass", "snapshots": snaps}]});
        let old = run(json!([
            {"name": "x/200", "document": doc("1", false)},
            {"name": "same/200", "document": doc("1", false)},
            {"name": "gone/404", "document": doc("1", false)},
        ]));
        let new = run(json!([
            {"name": "x/200", "document": doc("2", true)},
            {"name": "same/200", "document": doc("1", false)},
            {"name": "new/201", "document": doc("1", false)},
        ]));
        let d = diff(&old, &new);
        assert!(d.regressed.is_empty() && d.changed.is_empty());
        assert_eq!(
            d.snapshots,
            vec![
                ("new/201".to_string(), vec!["+ taken".to_string()]),
                (
                    "x/200".to_string(),
                    vec![
                        "~ $.body (order): [repo, path, size] → [path, repo, size]".to_string(),
                        "~ $.body.size: \"1\" → \"2\"".to_string()
                    ]
                ),
                ("gone/404".to_string(), vec!["- taken".to_string()]),
            ]
        );
    }

    #[test]
    fn xml_escapes() {
        assert_eq!(xml("a<b>&\"c\u{1}"), "a&lt;b&gt;&amp;&quot;c");
    }
}
