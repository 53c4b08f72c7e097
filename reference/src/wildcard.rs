//! The one `*`/`?` wildcard matcher (Ant path segments, search terms, AQL `$match`): `*` matches any
//! run of characters, `?` exactly one; linear back-tracking, no recursion.

/// Whether `text` matches `pattern` (case-sensitive).
pub fn matches(pattern: &str, text: &str) -> bool {
    if !pattern.contains('?') {
        // Byte-wise matching of literal parts is exact on UTF-8.
        return stars_only(pattern.as_bytes(), text.as_bytes(), |a, b| a == b);
    }
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
    if pattern.is_ascii() && text.is_ascii() && !pattern.contains('?') {
        // The usual quick-search term (`*part*`): no allocation, no copy.
        return stars_only(pattern.as_bytes(), text.as_bytes(), |a, b| {
            a.eq_ignore_ascii_case(&b)
        });
    }
    if pattern.is_ascii() && text.is_ascii() {
        return glob(pattern.as_bytes(), text.as_bytes(), b'?', b'*', |a, b| {
            a.eq_ignore_ascii_case(&b)
        });
    }
    matches(&pattern.to_lowercase(), &text.to_lowercase())
}

/// A pattern without `?`: its literal parts must appear in order, the first at the start and the
/// last at the end (leftmost search is exact for `*`).
fn stars_only(pattern: &[u8], text: &[u8], eq: impl Fn(u8, u8) -> bool + Copy) -> bool {
    let same = |a: &[u8], b: &[u8]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(*x, *y));
    let mut parts = pattern.split(|b| *b == b'*');
    let head = parts.next().unwrap_or_default();
    if parts.clone().next().is_none() {
        return same(head, text);
    }
    if text.len() < head.len() || !same(head, &text[..head.len()]) {
        return false;
    }
    let mut rest = &text[head.len()..];
    let last = pattern.rsplit(|b| *b == b'*').next().unwrap_or_default();
    if rest.len() < last.len() || !same(last, &rest[rest.len() - last.len()..]) {
        return false;
    }
    rest = &rest[..rest.len() - last.len()];
    let middle = &pattern[head.len() + 1..pattern.len() - last.len()];
    for part in middle.split(|b| *b == b'*').filter(|p| !p.is_empty()) {
        let found = (0..=rest.len().saturating_sub(part.len()))
            .find(|&i| rest.len() >= part.len() && same(part, &rest[i..i + part.len()]));
        match found {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
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
        assert!(!matches("ab*ba", "aba") && matches("ab*ba", "abba"));
        assert!(matches("a**b*c*", "aXbYc") && !matches("*b*a", "ab"));
        assert!(matches_ci("*ARTIFACT42-1*", "artifact42-17.jar") && !matches_ci("x*", "y"));
        assert!(matches("", "") && !matches("", "a") && matches("a*", "a"));
    }

    proptest::proptest! {
        /// The `*`-only shortcut answers as the general matcher does.
        #[test]
        fn shortcut_agrees_with_the_general_matcher(p in "[ab*]{0,8}", t in "[abAB]{0,10}") {
            let general = glob(p.as_bytes(), t.as_bytes(), b'?', b'*', |a, b| a == b);
            proptest::prop_assert_eq!(matches(&p, &t), general);
            let ci = glob(p.as_bytes(), t.as_bytes(), b'?', b'*', |a, b| a.eq_ignore_ascii_case(&b));
            proptest::prop_assert_eq!(matches_ci(&p, &t), ci);
        }
    }
}
