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
        mask_shapes(&out)
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
        let kind = if rest.starts_with("AKCp") {
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
    }
}
