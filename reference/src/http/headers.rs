//! Request headers, read one way. A header may arrive on several lines, and every line of a
//! list-valued header (`Accept`, `If-None-Match`, `X-Result-Detail`, `Cache-Control`, ...) holds
//! items separated by commas (RFC 9110 §5.3): clients such as containers/image send one `Accept`
//! line per media type. [`Headers`] is the only way the HTTP layer reads a request header, and it
//! never shows one line alone: [`Headers::get`] joins every line, [`Headers::list`] splits them all.

use std::borrow::Cow;

use warp::http::HeaderMap;

/// The headers of a request.
pub(crate) struct Headers(HeaderMap);

impl Headers {
    /// Wraps the headers warp received.
    pub(crate) fn new(map: HeaderMap) -> Headers {
        Headers(map)
    }

    /// A header's value: its only line, or every line joined with `", "` (what a header sent on
    /// several lines means). Lines that are not text are left out; `None` when there is no text line.
    pub(crate) fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut lines = self.lines(name);
        let first = lines.next()?;
        match lines.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut all = format!("{first}, {second}");
                for l in lines {
                    all.push_str(", ");
                    all.push_str(l);
                }
                Some(Cow::Owned(all))
            }
        }
    }

    /// Whether the header was sent at all (even with a value that is not text).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The items of a list-valued header: every line split on the commas outside quoted strings,
    /// trimmed, empty items dropped, in the order sent.
    pub(crate) fn list(&self, name: &str) -> Vec<&str> {
        self.lines(name).flat_map(split_list).collect()
    }

    /// The media ranges of `Accept`, parameters dropped, leaving out those with `q=0` (which
    /// refuse the type). Empty when the client sent no `Accept` (or only empty lines).
    pub(crate) fn accepted(&self) -> Vec<&str> {
        self.list("accept")
            .into_iter()
            .filter_map(|item| {
                let mut parts = item.split(';').map(str::trim);
                let range = parts.next().filter(|r| !r.is_empty())?;
                let refused = parts.any(|p| {
                    p.split_once('=').is_some_and(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("q")
                            && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                    })
                });
                (!refused).then_some(range)
            })
            .collect()
    }

    fn lines<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.get_all(name).iter().filter_map(|v| v.to_str().ok())
    }
}

/// Splits one header line into its comma-separated items, keeping commas inside `"..."` (with
/// `\"` escapes) in their item; items are trimmed and empty ones dropped.
pub(crate) fn split_list(line: &str) -> impl Iterator<Item = &str> {
    let mut items = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&line[start..]);
    items.into_iter().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&'static str, &str)]) -> Headers {
        let mut m = HeaderMap::new();
        for (k, v) in lines {
            m.append(*k, v.parse().unwrap());
        }
        Headers::new(m)
    }

    #[test]
    fn every_line_of_a_repeated_header_is_read() {
        let h = headers(&[
            ("accept", "application/vnd.oci.image.manifest.v1+json"),
            (
                "accept",
                "application/vnd.docker.distribution.manifest.v2+json, text/plain",
            ),
            ("accept", "application/json;q=0.5"),
        ]);
        assert_eq!(
            h.list("accept"),
            [
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "text/plain",
                "application/json;q=0.5",
            ]
        );
        assert_eq!(
            h.get("accept").unwrap(),
            "application/vnd.oci.image.manifest.v1+json, \
             application/vnd.docker.distribution.manifest.v2+json, text/plain, \
             application/json;q=0.5"
        );
        assert_eq!(h.accepted().len(), 4);
        assert_eq!(h.accepted()[3], "application/json");
    }

    #[test]
    fn a_single_line_is_borrowed_and_a_missing_header_is_none() {
        let h = headers(&[("content-type", "application/json")]);
        assert!(matches!(
            h.get("content-type"),
            Some(Cow::Borrowed("application/json"))
        ));
        assert!(h.get("accept").is_none());
        assert!(h.list("accept").is_empty());
        assert!(h.accepted().is_empty());
        assert!(h.has("content-type") && !h.has("accept"));
    }

    #[test]
    fn commas_inside_quotes_stay_in_their_item() {
        let items: Vec<&str> = split_list(r#""a,b", W/"c\"d,e" ,, "f""#).collect();
        assert_eq!(items, [r#""a,b""#, r#"W/"c\"d,e""#, r#""f""#]);
        assert_eq!(split_list("  ").count(), 0);
        assert_eq!(split_list("x").collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn q_zero_refuses_a_media_range() {
        let h = headers(&[("accept", "a/b;q=0, c/d; Q=0.000, e/f;q=0.1, g/h;level=1")]);
        assert_eq!(h.accepted(), ["e/f", "g/h"]);
    }

    #[test]
    fn lines_that_are_not_text_are_left_out() {
        let mut m = HeaderMap::new();
        m.append(
            "accept",
            warp::http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        m.append("accept", "a/b".parse().unwrap());
        let h = Headers::new(m);
        assert_eq!(h.list("accept"), ["a/b"]);
        assert!(h.has("accept"));
    }
}
