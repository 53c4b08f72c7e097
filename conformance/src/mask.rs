//! Masking of secrets (passwords, API keys, tokens, Authorization headers) in everything the runner
//! writes: reports, transcripts and logs.

/// Replaces known secret values with `***`.
#[derive(Clone, Debug, Default)]
pub struct Mask {
    secrets: Vec<String>,
}

impl Mask {
    /// A mask for these secret values (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Mask {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Mask { secrets }
    }

    /// Adds a secret learnt during the run (a token or key a case created).
    pub fn add(&mut self, secret: &str) {
        if !secret.is_empty() && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every known secret, and anything shaped like an API key (`AKCp...`) or a JWT
    /// (`eyJ...`), replaced by `***`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "***");
        }
        mask_shapes(&mask_fields(&out))
    }

    /// A header value as it may be shown: credentials-bearing headers are always masked.
    pub fn header(&self, name: &str, value: &str) -> String {
        match name.to_ascii_lowercase().as_str() {
            "authorization" | "x-jfrog-art-api" | "x-api-key" | "cookie" | "set-cookie" => {
                match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} ***"),
                    None => "***".into(),
                }
            }
            _ => self.apply(value),
        }
    }
}

/// Replaces runs that look like API keys (`AKCp` + 20 or more letters/digits) or JWTs (`eyJ` + 20 or
/// more base64url characters and dots) with `***`.
fn mask_shapes(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        // API keys (`AKCp…`) and encrypted passwords (`AP…`) are long runs of letters and digits.
        let kind = if rest.starts_with("AKCp")
            || (rest.starts_with("AP") && (i == 0 || !b[i - 1].is_ascii_alphanumeric()))
        {
            Some(false)
        } else if rest.starts_with("eyJ") {
            Some(true)
        } else {
            None
        };
        if let Some(jwt) = kind {
            let len = rest
                .bytes()
                .take_while(|c| {
                    c.is_ascii_alphanumeric() || (jwt && matches!(c, b'-' | b'_' | b'.'))
                })
                .count();
            if len >= 24 {
                out.push_str("***");
                i += len;
                continue;
            }
        }
        let ch = rest.chars().next().expect("not at the end");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Field names whose values are secrets, in JSON (`"password" : "…"`) and in forms (`password=…`).
const SECRET_FIELDS: [&str; 5] = [
    "password",
    "refresh_token",
    "access_token",
    "token",
    "apiKey",
];

/// Replaces the values of [`SECRET_FIELDS`] with `***`.
fn mask_fields(text: &str) -> String {
    let mut out = text.to_string();
    for name in SECRET_FIELDS {
        // JSON: "name" <spaces> : <spaces> "value"
        let quoted = format!("\"{name}\"");
        let mut from = 0;
        while let Some(at) = out[from..].find(&quoted).map(|i| i + from) {
            let after = at + quoted.len();
            let rest = &out[after..];
            let trimmed = rest.trim_start();
            let Some(value) = trimmed.strip_prefix(':').map(str::trim_start) else {
                from = after;
                continue;
            };
            let Some(body) = value.strip_prefix('"') else {
                from = after;
                continue;
            };
            let start = out.len() - body.len();
            let end = body.find('"').map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "***");
            from = start + 3;
        }
        // Forms: name=value up to & or whitespace, where name starts the text or follows & or ?.
        let eq = format!("{name}=");
        let mut from = 0;
        while let Some(at) = out[from..].find(&eq).map(|i| i + from) {
            let boundary = at == 0 || matches!(out.as_bytes()[at - 1], b'&' | b'?' | b' ' | b'\n');
            let start = at + eq.len();
            if !boundary {
                from = start;
                continue;
            }
            let end = out[start..]
                .find(|c: char| c == '&' || c.is_whitespace())
                .map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "***");
            from = start + 3;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Mask;

    #[test]
    fn masks_values_and_credential_headers() {
        let m = Mask::new(["s3cr3t".to_string(), "".to_string()]);
        assert_eq!(m.apply("user:s3cr3t@host"), "user:***@host");
        assert_eq!(
            m.header("Authorization", "Basic YWRtaW46cGFzc3dvcmQ="),
            "Basic ***"
        );
        assert_eq!(m.header("X-JFrog-Art-Api", "AKCpabc"), "***");
        assert_eq!(m.header("Content-Type", "text/plain"), "text/plain");
        let key = format!("AKCp8{}", "x".repeat(68));
        assert_eq!(
            m.apply(&format!("{{\"apiKey\":\"{key}\"}}")),
            "{\"apiKey\":\"***\"}"
        );
        assert_eq!(
            m.apply("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln é"),
            "token *** é"
        );
        assert_eq!(m.apply("AKCp short"), "AKCp short");
        assert_eq!(
            m.apply("{\n  \"email\" : \"a@b\",\n  \"password\" : \"Pw-123\"\n}"),
            "{\n  \"email\" : \"a@b\",\n  \"password\" : \"***\"\n}"
        );
        assert_eq!(
            m.apply("grant_type=refresh_token&refresh_token=f96bda0c-ab50&access_token=x"),
            "grant_type=refresh_token&refresh_token=***&access_token=***"
        );
        assert_eq!(m.apply("token_id=abc"), "token_id=abc");
        assert_eq!(
            m.apply("encrypted: APa1b2c3d4e5f6g7h8i9j0k1l2m3n4"),
            "encrypted: ***"
        );
        assert_eq!(m.apply("APPLE"), "APPLE");
    }
}
