//! Normalised response snapshots under `snapshots/`: a declarative, ordered list of transformers turns
//! run-specific values (timestamps, base URL and host, the run prefix, ids, tokens, checksums of
//! generated content) into numbered placeholders, so identity is still checked where a value repeats
//! (`<sha1:1>` twice means the same checksum twice). Each file carries its provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// One transformer of the normalisation, applied in order to every string of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transformer {
    /// Replace this literal (base URL, host, run prefix) everywhere by a fixed placeholder.
    Literal { value: String, placeholder: String },
    /// Whole strings that are ISO-8601 timestamps become `<timestamp:N>`.
    Timestamps,
    /// Whole strings of 32/40/64 hex digits become `<md5:N>` / `<sha1:N>` / `<sha256:N>`.
    Checksums,
    /// Long opaque tokens (JWTs, API keys) become `<token:N>`.
    Tokens,
}

/// The ordered transformers plus the numbering state of one snapshot.
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    transformers: Vec<Transformer>,
    numbers: BTreeMap<(String, String), usize>,
    counters: BTreeMap<String, usize>,
}

impl Normalizer {
    /// The standard transformers for a target and run: base URL, host, run prefix, then timestamps,
    /// checksums and tokens.
    pub fn standard(base_url: &str, run_id: &str) -> Normalizer {
        let host = base_url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("")
            .to_string();
        let mut t = vec![Transformer::Literal {
            value: base_url.to_string(),
            placeholder: "<base>".into(),
        }];
        if !host.is_empty() {
            t.push(Transformer::Literal {
                value: host,
                placeholder: "<host>".into(),
            });
        }
        t.push(Transformer::Literal {
            value: run_id.to_string(),
            placeholder: "<run>".into(),
        });
        t.extend([
            Transformer::Timestamps,
            Transformer::Checksums,
            Transformer::Tokens,
        ]);
        Normalizer {
            transformers: t,
            ..Normalizer::default()
        }
    }

    fn number(&mut self, kind: &str, value: &str) -> String {
        let key = (kind.to_string(), value.to_string());
        if let Some(n) = self.numbers.get(&key) {
            return format!("<{kind}:{n}>");
        }
        let c = self.counters.entry(kind.to_string()).or_insert(0);
        *c += 1;
        self.numbers.insert(key, *c);
        format!("<{kind}:{c}>")
    }

    /// Normalises one string.
    pub fn string(&mut self, s: &str) -> String {
        let mut out = s.to_string();
        for t in self.transformers.clone() {
            match t {
                Transformer::Literal { value, placeholder } if !value.is_empty() => {
                    out = out.replace(&value, &placeholder)
                }
                Transformer::Literal { .. } => {}
                Transformer::Timestamps if is_timestamp(&out) => {
                    out = self.number("timestamp", &out.clone())
                }
                Transformer::Checksums if is_hex(&out) => {
                    let kind = match out.len() {
                        32 => "md5",
                        40 => "sha1",
                        _ => "sha256",
                    };
                    out = self.number(kind, &out.clone());
                }
                Transformer::Tokens if is_token(&out) => out = self.number("token", &out.clone()),
                _ => {}
            }
        }
        out
    }

    /// Normalises every string of a JSON value (keys are kept).
    pub fn json(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.string(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.json(x)))
                    .collect::<Map<_, _>>(),
            ),
            other => other.clone(),
        }
    }
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && s[19..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'Z' | '+' | '-' | ':'))
}

fn is_hex(s: &str) -> bool {
    matches!(s.len(), 32 | 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_token(s: &str) -> bool {
    (s.starts_with("eyJ") && s.matches('.').count() == 2 && s.len() > 40)
        || (s.starts_with("AKCp") && s.len() >= 60)
}

/// What a snapshot holds: status, the headers that matter, the normalised body.
pub fn document(status: u16, content_type: Option<&str>, body: &Value) -> Value {
    json!({"status": status, "content_type": content_type, "body": body})
}

/// Where the snapshot of `name` lives.
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{}.json", name.replace('/', "__")))
}

/// Differences between two JSON documents as JSON-path lines: `+ $.a: v` added, `- $.a: v` removed,
/// `~ $.a: expected → actual` replaced.
pub fn diff_lines(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("$", expected, actual, &mut out);
    out
}

fn walk(at: &str, e: &Value, a: &Value, out: &mut Vec<String>) {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            for (k, ev) in eo {
                match ao.get(k) {
                    Some(av) => walk(&format!("{at}.{k}"), ev, av, out),
                    None => out.push(format!("- {at}.{k}: {ev}")),
                }
            }
            for (k, av) in ao {
                if !eo.contains_key(k) {
                    out.push(format!("+ {at}.{k}: {av}"));
                }
            }
        }
        (Value::Array(ea), Value::Array(aa)) => {
            for i in 0..ea.len().max(aa.len()) {
                match (ea.get(i), aa.get(i)) {
                    (Some(x), Some(y)) => walk(&format!("{at}[{i}]"), x, y, out),
                    (Some(x), None) => out.push(format!("- {at}[{i}]: {x}")),
                    (None, Some(y)) => out.push(format!("+ {at}[{i}]: {y}")),
                    (None, None) => {}
                }
            }
        }
        _ if e != a => out.push(format!("~ {at}: {e} → {a}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_and_repeat() {
        let mut n = Normalizer::standard("http://127.0.0.1:4000/artifactory", "jcrconf-1-abc");
        let v = json!({
            "uri": "http://127.0.0.1:4000/artifactory/api/storage/generic-local/jcrconf-1-abc/x",
            "created": "2023-11-14T22:13:20.123Z",
            "lastModified": "2023-11-14T22:13:20.123Z",
            "lastUpdated": "2023-11-14T22:13:21.000+02:00",
            "sha1": "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
            "again": "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
            "size": "11",
        });
        insta::assert_snapshot!(serde_json::to_string_pretty(&n.json(&v)).unwrap(), @r###"
        {
          "uri": "<base>/api/storage/generic-local/<run>/x",
          "created": "<timestamp:1>",
          "lastModified": "<timestamp:1>",
          "lastUpdated": "<timestamp:2>",
          "sha1": "<sha1:1>",
          "again": "<sha1:1>",
          "size": "11"
        }
        "###);
    }

    #[test]
    fn diff_lines_name_json_paths() {
        let e = json!({"a": "1", "b": [1, 2], "c": {"d": true}});
        let a = json!({"a": 1, "b": [1], "c": {"d": true, "e": null}});
        assert_eq!(
            diff_lines(&e, &a),
            vec!["~ $.a: \"1\" → 1", "- $.b[1]: 2", "+ $.c.e: null"]
        );
    }
}
