//! Decoded `a=b&c` parameters: query strings and form bodies.

/// Decoded query string parameters, in order. `?list` gives `("list", "")`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (`+` is a space, as servlet containers decode it).
    pub(crate) fn parse(raw: &str) -> Query {
        let dec = |s: &str| {
            let s = s.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8_lossy()
                .into_owned()
        };
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (dec(k), dec(v)),
                    None => (dec(p), String::new()),
                })
                .collect(),
        )
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (with or without a value).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The comma-separated values of `name` (`?properties=a,b`), empty ones dropped.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `1`/`true` style flag; `default` when absent.
    pub(crate) fn flag(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            None => default,
            Some(v) => matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | ""),
        }
    }
}
