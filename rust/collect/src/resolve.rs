//! What a name written in a module refers to: local names resolved through the
//! module's imports, and the qualified names collection gives a meaning to
//! (unittest's and dbtest's base classes, `@test`, fixture decorators).

use crate::summary::ModuleSummary;
use std::collections::HashMap;

/// Maps local names to the qualified names they were imported as.
pub(crate) struct Resolver<'a> {
    imports: HashMap<&'a str, &'a str>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(summary: &'a ModuleSummary) -> Self {
        Resolver {
            imports: summary
                .imports
                .iter()
                .map(|(local, full)| (local.as_str(), full.as_str()))
                .collect(),
        }
    }

    /// `TC` → `unittest.TestCase`; `mark.skip` with `from pytest import mark` → `pytest.mark.skip`.
    pub(crate) fn resolve(&self, dotted: &str) -> String {
        let (head, rest) = match dotted.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (dotted, None),
        };
        match (self.imports.get(head), rest) {
            (Some(full), Some(rest)) => format!("{full}.{rest}"),
            (Some(full), None) => (*full).to_string(),
            (None, _) => dotted.to_string(),
        }
    }
}

pub(crate) fn is_testcase_base(qualified: &str) -> bool {
    let last = qualified.rsplit('.').next().unwrap_or(qualified);
    last.ends_with("TestCase") && qualified != "dbtest.TestCase"
}

pub(crate) fn is_suite_base(qualified: &str) -> bool {
    matches!(qualified, "dbtest.TestSuite" | "dbtest.suite.TestSuite")
}

pub(crate) fn is_dbtest_test(qualified: &str) -> bool {
    matches!(qualified, "dbtest.test" | "dbtest.suite.test")
}

/// `@pytest.fixture`, `@dbtest.fixture`, `@pytest_asyncio.fixture`...
pub(crate) fn is_fixture_decorator(path: &str) -> bool {
    path == "fixture" || path.ends_with(".fixture")
}
