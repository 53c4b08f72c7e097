//! THE one parser for catch-all paths (`/{repo}/{path}`, `/api/storage/{repo}/{path}`, ...): repository
//! key, segments, trailing slash, `!/` archive entry, `;k=v` matrix parameters, percent-decoding exactly
//! once. Matrix parameters are split off on raw `;` before decoding, so an encoded `%3B` stays part of a
//! name. `.`/`..` segments (also encoded), NUL and other control characters, encoded slashes and
//! embedded URLs are refused.

use percent_encoding::percent_decode_str;

/// A parsed repository path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoPath {
    /// Repository key.
    pub repo: String,
    /// Relative path, decoded, without leading or trailing slash; `""` for the repository root.
    pub path: String,
    /// Whether the request path ended with `/` (a folder request).
    pub trailing_slash: bool,
    /// Matrix parameters in order, decoded. A key ending in `+` asks for mandatory matching.
    pub matrix: Vec<(String, String)>,
    /// The entry path inside an archive (`archive.zip!/entry`); `path` is then the archive.
    pub archive_entry: Option<String>,
}

/// Why a path was refused (rendered as 400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError(pub String);

impl RepoPath {
    /// `repo:path` as Artifactory prints repo paths in messages.
    pub fn repo_path_id(&self) -> String {
        format!("{}:{}", self.repo, self.path)
    }

    /// The file name (last segment), or the repository key at the root.
    pub fn name(&self) -> &str {
        if self.path.is_empty() {
            &self.repo
        } else {
            self.path.rsplit('/').next().unwrap_or(&self.path)
        }
    }
}

/// Decodes one percent-encoded component; refuses invalid UTF-8 and control characters.
pub fn decode(raw: &str) -> Result<String, PathError> {
    let s = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| PathError(format!("Invalid path encoding: {raw}")))?
        .into_owned();
    if s.chars().any(|c| c.is_control()) {
        return Err(PathError(format!("Illegal character in path: {raw}")));
    }
    Ok(s)
}

/// Parses a raw (still percent-encoded) path such as `repo;a=1/dir/file.jar;b=2`.
pub fn parse(raw: &str) -> Result<RepoPath, PathError> {
    let raw = raw.strip_prefix('/').unwrap_or(raw);
    if raw.contains("://") {
        return Err(PathError(format!("Forbidden Url in path: {raw}")));
    }
    let last = raw.rsplit('/').next().unwrap_or("");
    let trailing_slash = raw.contains('/') && last.split(';').next() == Some("");
    let mut out = RepoPath {
        trailing_slash,
        ..RepoPath::default()
    };
    let mut segments: Vec<String> = Vec::new();
    for (i, seg) in raw.split('/').enumerate() {
        let (name, params) = match seg.find(';') {
            Some(p) => (&seg[..p], Some(&seg[p + 1..])),
            None => (seg, None),
        };
        if let Some(params) = params {
            matrix(params, &mut out.matrix)?;
        }
        let name = decode(name)?;
        if name.is_empty() {
            if i == 0 && params.is_none() {
                return Err(PathError("Repository key is missing".into()));
            }
            continue;
        }
        if name == "." || name == ".." {
            return Err(PathError(format!("Illegal path segment '{name}': {raw}")));
        }
        if name.contains('/') || name.contains('\\') {
            return Err(PathError(format!(
                "Illegal character in path segment: {raw}"
            )));
        }
        segments.push(name);
    }
    if segments.is_empty() {
        return Err(PathError("Repository key is missing".into()));
    }
    out.repo = segments.remove(0);
    // `archive.zip!/entry/path`: the first segment ending in `!` that has something after it.
    if let Some(pos) = segments
        .iter()
        .position(|s| s.ends_with('!') && s.len() > 1)
    {
        if pos + 1 < segments.len() {
            let entry = segments[pos + 1..].join("/");
            segments.truncate(pos + 1);
            let last = segments.last_mut().expect("non-empty");
            last.pop();
            out.archive_entry = Some(entry);
        }
    }
    out.path = segments.join("/");
    Ok(out)
}

/// The `;k=v;...` parameters of one segment, decoded, appended to `out`.
fn matrix(params: &str, out: &mut Vec<(String, String)>) -> Result<(), PathError> {
    for p in params.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = match p.find('=') {
            Some(e) => (&p[..e], &p[e + 1..]),
            None => (p, ""),
        };
        let k = decode(k)?;
        if k.is_empty() || k == "+" {
            return Err(PathError(format!("Invalid matrix parameter: {p}")));
        }
        out.push((k, decode(v)?));
    }
    Ok(())
}

/// Percent-encodes a path for a URL or header, keeping `/` (used for `Location`, redirects).
pub fn encode_path(path: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b';')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    percent_encoding::utf8_percent_encode(path, SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic() {
        let p = parse("/generic-local/a/b%20c.txt").unwrap();
        assert_eq!(p.repo, "generic-local");
        assert_eq!(p.path, "a/b c.txt");
        assert!(!p.trailing_slash);
        assert_eq!(p.name(), "b c.txt");
    }

    #[test]
    fn matrix_on_repo_and_path_and_folder_request() {
        let p = parse("repo;a=1/dir/;b=x%3By;c").unwrap();
        assert_eq!(p.repo, "repo");
        assert_eq!(p.path, "dir");
        assert!(p.trailing_slash);
        assert_eq!(
            p.matrix,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x;y".into()),
                ("c".into(), "".into())
            ]
        );
    }

    #[test]
    fn encoded_semicolon_is_part_of_the_name() {
        let p = parse("repo/a%3Bb").unwrap();
        assert_eq!(p.path, "a;b");
        assert!(p.matrix.is_empty());
    }

    #[test]
    fn traversal_refused() {
        for bad in [
            "repo/../x",
            "repo/%2e%2e/x",
            "repo/a/./b",
            "repo/a%2Fb",
            "repo/a%00b",
            "repo/http://x/y",
            "/",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn archive_entry() {
        let p = parse("repo/lib/a.jar!/META-INF/MANIFEST.MF").unwrap();
        assert_eq!(p.path, "lib/a.jar");
        assert_eq!(p.archive_entry.as_deref(), Some("META-INF/MANIFEST.MF"));
        let q = parse("repo/odd!").unwrap();
        assert_eq!(q.path, "odd!");
        assert!(q.archive_entry.is_none());
    }

    #[test]
    fn double_slashes_collapse() {
        assert_eq!(parse("repo//a///b").unwrap().path, "a/b");
    }

    use proptest::prelude::*;

    fn segment() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 ._~!%;,=+()'-]{1,12}|[\\p{L}]{1,6}"
            .prop_filter("not a dot segment", |s| s != "." && s != "..")
    }

    fn encode(segs: &[String]) -> String {
        segs.iter()
            .map(|s| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,64}") {
            let _ = parse(&s);
        }

        #[test]
        fn parser_round_trips(repo in "[a-z][a-z0-9-]{0,10}", segs in prop::collection::vec(segment(), 0..6), slash in any::<bool>()) {
            let raw = format!("{repo}/{}{}", encode(&segs), if slash && !segs.is_empty() { "/" } else { "" });
            let p = parse(&raw).unwrap();
            prop_assert_eq!(&p.repo, &repo);
            // `x!/y` is an archive entry; the parser re-joins it exactly.
            let joined = match &p.archive_entry { Some(e) => format!("{}!/{}", p.path, e), None => p.path.clone() };
            prop_assert_eq!(joined, segs.join("/"));
            prop_assert!(p.matrix.is_empty());
        }
    }
}
