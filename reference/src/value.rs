//! Reading the JSON clients send: scalar values as text, the way Jackson binds them to strings.

use serde_json::Value;

/// A string, number or boolean as text (`None` for null, arrays and objects).
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `doc[key]` as text (see [`scalar`]).
pub(crate) fn field(doc: &Value, key: &str) -> Option<String> {
    doc.get(key).and_then(scalar)
}
