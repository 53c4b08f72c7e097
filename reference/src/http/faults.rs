//! Deliberate faults (test-only, see [`crate::config::Faults`]): one response transformation applied
//! after every route, so the handlers stay faithful and the faults stay in one place.

use bytes::Bytes;
use http_body_util::BodyExt;
use warp::http::{header, StatusCode};
use warp::reply::Response;

use crate::config::Faults;

/// The request's headers with only the first line of each.
pub fn first_lines(headers: warp::http::HeaderMap) -> warp::http::HeaderMap {
    let mut out = warp::http::HeaderMap::new();
    for (k, v) in &headers {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Applies the enabled faults to a response.
pub async fn apply(f: Faults, r: Response) -> Response {
    let (mut parts, body) = r.into_parts();
    if f.drop_checksum_headers {
        for h in ["x-checksum-sha1", "x-checksum-sha256", "x-checksum-md5"] {
            parts.headers.remove(h);
        }
    }
    if f.drop_www_authenticate {
        parts.headers.remove(header::WWW_AUTHENTICATE);
    }
    if f.ok_instead_of_not_found && parts.status == StatusCode::NOT_FOUND {
        parts.status = StatusCode::OK;
    }
    let ctype = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let rewrite_size = f.size_as_number
        && (ctype.ends_with("FileInfo+json") || ctype.ends_with("ItemCreated+json"));
    let drop_child = f.drop_folder_child && ctype.ends_with("FolderInfo+json");
    let json_answer = ctype.contains("json");
    let format = json_answer
        && (f.swap_field_order
            || f.timestamps_without_millis
            || f.timestamps_with_offset
            || f.aql_numbers_as_strings
            || f.reverse_lists
            || f.compact_json);
    if !(rewrite_size || drop_child || format) {
        return Response::from_parts(parts, body);
    }
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, Bytes::new().into());
    };
    let bytes = collected.to_bytes();
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, bytes.into());
    };
    if rewrite_size {
        if let Some(n) = v
            .get("size")
            .and_then(|s| s.as_str())
            .and_then(|s| s.parse::<u64>().ok())
        {
            v["size"] = serde_json::json!(n);
        }
    }
    if drop_child {
        if let Some(children) = v.get_mut("children").and_then(|c| c.as_array_mut()) {
            children.pop();
        }
    }
    if f.swap_field_order {
        if let serde_json::Value::Object(o) = &mut v {
            if o.len() >= 2 {
                let mut all: Vec<(String, serde_json::Value)> =
                    std::mem::take(o).into_iter().collect();
                all.swap(0, 1);
                o.extend(all);
            }
        }
    }
    if f.timestamps_without_millis || f.timestamps_with_offset {
        timestamps(&mut v, f);
    }
    if f.aql_numbers_as_strings {
        if let Some(rows) = v.get_mut("results").and_then(|r| r.as_array_mut()) {
            for row in rows {
                if let Some(n) = row.get("size").filter(|s| s.is_number()).cloned() {
                    row["size"] = serde_json::json!(n.to_string());
                }
            }
        }
    }
    if f.reverse_lists {
        if let Some(a) = v.as_array_mut() {
            a.reverse();
        }
        if let Some(children) = v.get_mut("children").and_then(|c| c.as_array_mut()) {
            children.reverse();
        }
    }
    let out = if f.compact_json {
        v.to_string()
    } else {
        super::json::pretty(&v)
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, out.len().into());
    Response::from_parts(parts, out.into())
}

/// Rewrites Artifactory's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` strings the way the faults say.
fn timestamps(v: &mut serde_json::Value, f: Faults) {
    match v {
        serde_json::Value::String(s) => {
            let b = s.as_bytes();
            if b.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z' {
                let head = &s[..19];
                let millis = if f.timestamps_without_millis {
                    ""
                } else {
                    &s[19..23]
                };
                let zone = if f.timestamps_with_offset {
                    "+00:00"
                } else {
                    "Z"
                };
                *s = format!("{head}{millis}{zone}");
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| timestamps(x, f)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| timestamps(x, f)),
        _ => {}
    }
}
