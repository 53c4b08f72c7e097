//! The one `*`/`?` wildcard matcher (Ant path segments, search terms, AQL `$match`): `*` matches any
//! run of characters, `?` exactly one; linear back-tracking, no recursion.

/// Whether `text` matches `pattern` (case-sensitive).
pub fn matches(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        // Searches test millions of names: ASCII (the usual case) is matched on bytes, no allocation.
        return glob(pattern.as_bytes(), text.as_bytes(), b'?', b'*', |a, b| {
            a == b
        });
    }
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    glob(&p, &s, '?', '*', |a, b| a == b)
}

/// Whether `text` matches `pattern`, ignoring case.
pub fn matches_ci(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return glob(pattern.as_bytes(), text.as_bytes(), b'?', b'*', |a, b| {
            a.eq_ignore_ascii_case(&b)
        });
    }
    matches(&pattern.to_lowercase(), &text.to_lowercase())
}

fn glob<T: Copy + PartialEq>(p: &[T], s: &[T], one: T, any: T, eq: impl Fn(T, T) -> bool) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] != any && (p[pi] == one || eq(p[pi], s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == any {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("*.jar", "a.jar") && !matches("*.jar", "a.JAR"));
        assert!(matches("a*b*c", "aXbYc") && !matches("a*b*c", "aXbY"));
        assert!(matches("*", "") && !matches("?", ""));
        assert!(matches("?é", "aé"), "? is one character, not one byte");
        assert!(matches_ci("*LIB*", "my-lib-1.0.jar"));
        assert!(matches_ci("*LİB*", "my-lİb") && !matches_ci("a?c", "ABCD"));
        assert!(matches("*a", "ba*a") && matches("a\\*", "a\\xyz"));
    }
}
