//! Which names are tests: pytest's `python_classes` and `python_functions`,
//! each a list of name prefixes or `fnmatch` patterns.

/// The name rules of a project (pytest's defaults: `Test`, `test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRules {
    pub classes: Vec<String>,
    pub functions: Vec<String>,
}

impl Default for NameRules {
    fn default() -> Self {
        NameRules {
            classes: vec!["Test".into()],
            functions: vec!["test".into()],
        }
    }
}

impl NameRules {
    pub fn is_test_class(&self, name: &str) -> bool {
        matches_prefix_or_glob(name, &self.classes)
    }

    pub fn is_test_function(&self, name: &str) -> bool {
        matches_prefix_or_glob(name, &self.functions)
    }
}

/// pytest's `_matches_prefix_or_glob_option`.
fn matches_prefix_or_glob(name: &str, options: &[String]) -> bool {
    options.iter().any(|option| {
        name.starts_with(option.as_str())
            || (option.contains(['*', '?', '[']) && fnmatch(name.as_bytes(), option.as_bytes()))
    })
}

/// Python's `fnmatch.fnmatch` on POSIX (case-sensitive): `*`, `?`, `[seq]`, `[!seq]`.
fn fnmatch(name: &[u8], pattern: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| fnmatch(&name[skip..], rest)),
        Some((b'?', rest)) => !name.is_empty() && fnmatch(&name[1..], rest),
        Some((b'[', rest)) => match class_end(rest) {
            Some(end) => {
                let (negated, set) = match rest[..end].split_first() {
                    Some((b'!', set)) => (true, set),
                    _ => (false, &rest[..end]),
                };
                name.split_first().is_some_and(|(&c, tail)| {
                    in_class(c, set) != negated && fnmatch(tail, &rest[end + 1..])
                })
            }
            // An unclosed `[` is a literal, as in Python.
            None => name.first() == Some(&b'[') && fnmatch(&name[1..], rest),
        },
        Some((&literal, rest)) => name.first() == Some(&literal) && fnmatch(&name[1..], rest),
    }
}

/// Where the `]` closing a character class starts (a `]` first in the class is literal).
fn class_end(after_bracket: &[u8]) -> Option<usize> {
    let skip = match after_bracket {
        [b'!', b']', ..] => 2,
        [b'!', ..] | [b']', ..] => 1,
        _ => 0,
    };
    after_bracket[skip..]
        .iter()
        .position(|&c| c == b']')
        .map(|p| p + skip)
}

fn in_class(c: u8, set: &[u8]) -> bool {
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == b'-' {
            if set[i] <= c && c <= set[i + 2] {
                return true;
            }
            i += 3;
        } else {
            if set[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_globs() {
        let rules = NameRules {
            classes: vec!["Test".into(), "*Suite".into()],
            functions: vec!["test".into(), "check_*".into(), "[ab]?_it".into()],
        };
        assert!(rules.is_test_class("TestX"));
        assert!(rules.is_test_class("ApiSuite"));
        assert!(!rules.is_test_class("Helper"));
        assert!(rules.is_test_function("test_x"));
        assert!(rules.is_test_function("check_db"));
        assert!(rules.is_test_function("ax_it"));
        assert!(!rules.is_test_function("cx_it"));
        assert!(!rules.is_test_function("checker"));
        assert!(fnmatch(b"a[b", b"a[b"));
        assert!(fnmatch(b"x!", b"x[!a]"));
        assert!(!fnmatch(b"xa", b"x[!a]"));
    }
}
