//! The endpoint catalogue, `fixtures/endpoints.toml`: every endpoint of the API document plus the extra
//! endpoints real clients use.

use serde::{Deserialize, Serialize};

/// One endpoint of the catalogue.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    /// Stable id (`storage.file-info`).
    pub id: String,
    /// HTTP method.
    pub method: String,
    /// Path template under the context path.
    pub path: String,
    /// API area.
    pub area: String,
    /// Heading in the API document (or the client using an extra endpoint).
    pub section: String,
    /// `anonymous`, `user` or `admin`.
    pub auth: String,
    /// Whether the reference server implements it today.
    #[serde(default)]
    pub reference: bool,
    /// Not in the API document, but used by common clients.
    #[serde(default)]
    pub extra: bool,
}

#[derive(Deserialize)]
struct File {
    endpoint: Vec<Endpoint>,
}

/// The catalogue shipped with the runner (compiled in, so the binary works from any directory).
pub const ENDPOINTS_TOML: &str = include_str!("../../fixtures/endpoints.toml");

/// Parses a catalogue.
pub fn parse(text: &str) -> Result<Vec<Endpoint>, String> {
    let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    for e in &f.endpoint {
        if !seen.insert(e.id.clone()) {
            return Err(format!("endpoint id '{}' appears twice", e.id));
        }
        if !["anonymous", "user", "admin"].contains(&e.auth.as_str()) {
            return Err(format!("endpoint '{}': unknown auth '{}'", e.id, e.auth));
        }
    }
    Ok(f.endpoint)
}

/// The shipped catalogue.
pub fn endpoints() -> Vec<Endpoint> {
    parse(ENDPOINTS_TOML).expect("fixtures/endpoints.toml is valid")
}
