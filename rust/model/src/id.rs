//! Test ids, read the one way pytest reads them.
//!
//! An id is `path::Class::Inner::function[params]`: the file's path (relative,
//! `/`-separated), then the names of the enclosing classes and of the test,
//! each after `::`, then, for a parametrized case, its parameter id in square
//! brackets. The parameter id is free text (`[a::b/c d]` is a valid case of
//! `test_x`), so an id is never split on `::` as a whole: the path ends at the
//! first `::`, the parameters start at the first `[` after it (names are Python
//! identifiers, which hold no `[`), and only the part between is split.
//! `dbtest/worker/names.py` is the Python twin; both are checked against
//! `workers/golden/ids.json`.

/// The id of the test `name` of the file `rel`. The empty name stands for the
/// module itself: a module that failed to import before any of its tests was
/// known is reported as pytest reports a collection error, under its path.
pub fn node_id(rel: &str, name: &str) -> String {
    if name.is_empty() {
        rel.to_string()
    } else {
        format!("{rel}::{name}")
    }
}

/// A test's name within its module: `Class::method[params]`, `function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestName<'a> {
    text: &'a str,
    /// Where `[` starts, if the name has parameters.
    params_at: Option<usize>,
}

impl<'a> TestName<'a> {
    pub fn new(text: &'a str) -> TestName<'a> {
        TestName {
            text,
            params_at: text.find('['),
        }
    }

    /// The whole name.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The name without its parameters: `Class::method`.
    pub fn base(&self) -> &'a str {
        &self.text[..self.params_at.unwrap_or(self.text.len())]
    }

    /// The parameter id without its brackets (`1-a` of `test_x[1-a]`).
    pub fn params(&self) -> Option<&'a str> {
        let start = self.params_at? + 1;
        let inner = &self.text[start..];
        Some(inner.strip_suffix(']').unwrap_or(inner))
    }

    /// The test function or method's own name: `method`.
    pub fn function(&self) -> &'a str {
        let base = self.base();
        base.rsplit_once("::").map_or(base, |(_, f)| f)
    }

    /// The enclosing classes, outermost first, joined by `::` (`Outer::Inner`).
    pub fn class(&self) -> Option<&'a str> {
        self.base().rsplit_once("::").map(|(class, _)| class)
    }

    /// Whether this name is `prefix` or lies under it: a class (`TestX` holds
    /// `TestX::test_y`), a test (`test_x` holds its cases `test_x[1]`), or the
    /// very name.
    pub fn is_under(&self, prefix: &str) -> bool {
        match self.text.strip_prefix(prefix) {
            Some(rest) => {
                rest.is_empty()
                    || rest.starts_with("::") && !prefix.contains('[')
                    || rest.starts_with('[') && !prefix.contains('[')
            }
            None => false,
        }
    }
}

/// A whole test id: the file's path and the test's name in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestId<'a> {
    path: &'a str,
    name: TestName<'a>,
}

impl<'a> TestId<'a> {
    /// `None` when `text` names no test in a file (no `::`).
    pub fn parse(text: &'a str) -> Option<TestId<'a>> {
        let (path, name) = text.split_once("::")?;
        Some(TestId {
            path,
            name: TestName::new(name),
        })
    }

    /// The file's path, relative to the root directory.
    pub fn path(&self) -> &'a str {
        self.path
    }

    pub fn name(&self) -> TestName<'a> {
        self.name
    }
}

/// The file part of an id, or the whole text when it names no test (a file
/// or directory given on the command line, a collection error's path).
pub fn path_of(id: &str) -> &str {
    id.split_once("::").map_or(id, |(path, _)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_may_hold_separators_and_brackets() {
        let id = TestId::parse("tests/test_a.py::TestX::Inner::test_y[a::b/c [d]]").unwrap();
        assert_eq!(id.path(), "tests/test_a.py");
        let name = id.name();
        assert_eq!(name.base(), "TestX::Inner::test_y");
        assert_eq!(name.function(), "test_y");
        assert_eq!(name.class(), Some("TestX::Inner"));
        assert_eq!(name.params(), Some("a::b/c [d]"));
        let plain = TestName::new("test_f");
        assert_eq!(
            (plain.function(), plain.class(), plain.params()),
            ("test_f", None, None)
        );
        assert_eq!(TestId::parse("tests/test_a.py"), None);
        assert_eq!(path_of("tests/test_a.py::test_f[x::y]"), "tests/test_a.py");
    }

    #[test]
    fn names_lie_under_their_classes_and_tests() {
        let case = TestName::new("TestX::test_y[1]");
        assert!(case.is_under("TestX"));
        assert!(case.is_under("TestX::test_y"));
        assert!(case.is_under("TestX::test_y[1]"));
        assert!(!case.is_under("TestX::test_"));
        assert!(!case.is_under("TestX::test_y[1"));
        assert!(!TestName::new("TestXY::test_y").is_under("TestX"));
    }
}
