//! What the runner is asked to run.

use dbtest_protocol::ModuleRef;

/// The selected tests, grouped by module in collection order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub modules: Vec<PlannedModule>,
}

#[derive(Debug, Clone)]
pub struct PlannedModule {
    /// Path relative to the root directory: the prefix of every id in it.
    pub rel: String,
    pub module: ModuleRef,
    pub tests: Vec<PlannedTest>,
    /// Import the module once to find tests the static pass could not see.
    pub run_unlisted: bool,
    /// With `run_unlisted`: the names of the module's other static tests (not
    /// selected, statically skipped, in another shard). The worker is told of
    /// them with the planned ones (`known`), so it reports only the tests the
    /// static pass could not see.
    pub unplanned: Vec<String>,
    /// Start this module before the others (`--ff`: it holds last run's failures).
    pub first: bool,
    /// It has module-level set-up: all its tests run on one worker, in one
    /// piece, so that the set-up runs once.
    pub whole: bool,
}

/// A test to run. Its id is `<module rel>::<name>`.
#[derive(Debug, Clone)]
pub struct PlannedTest {
    /// Name within the module: `func` or `Class::method`.
    pub name: Box<str>,
    /// Tests with the same group (a `TestCase` or `TestSuite` class) run together
    /// on one worker, in order.
    pub group: Option<Box<str>>,
    pub timeout: Option<f64>,
    /// Seconds it took last time, if known.
    pub estimate: Option<f64>,
}

impl Plan {
    pub fn test_count(&self) -> usize {
        self.modules.iter().map(|m| m.tests.len()).sum()
    }
}
