//! The vocabulary every other dbtest crate speaks: what a test item is (as the
//! static collector sees it) and what a result is (as the runner records it).
//!
//! This crate holds data only; behaviour lives in the crates that own it.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How a test is written, which decides how a worker runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// A module-level `def test_*()` / `async def test_*()`.
    Function,
    /// A method of a plain `Test*` class (pytest style).
    PlainClass,
    /// A method of a `unittest.TestCase` subclass.
    TestCase,
    /// A method of a `dbtest.TestSuite` subclass.
    Suite,
    /// A member of a `dbtest.BenchmarkGroup`.
    Benchmark,
}

impl Style {
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Function => "function",
            Style::PlainClass => "plain_class",
            Style::TestCase => "testcase",
            Style::Suite => "suite",
            Style::Benchmark => "benchmark",
        }
    }

    /// Classes whose tests must share one worker so class-level set-up runs once.
    pub fn keeps_class_together(self) -> bool {
        matches!(self, Style::TestCase | Style::Suite | Style::PlainClass)
    }
}

/// Which lane a test belongs to (`dbtest unit`, `dbtest integration`, `dbtest bench`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Unit,
    Integration,
    Benchmark,
}

impl Kind {
    /// A test is `integration` if tagged so or under a directory named
    /// `integration`, otherwise `unit`.
    pub fn of_test(rel_path: &str, tags: &[String]) -> Kind {
        let path = rel_path.split("::").next().unwrap_or(rel_path);
        if tags.iter().any(|t| t == "integration")
            || path.split('/').any(|part| part == "integration")
        {
            Kind::Integration
        } else {
            Kind::Unit
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Unit => "unit",
            Kind::Integration => "integration",
            Kind::Benchmark => "benchmark",
        }
    }
}

/// One test as the coordinator knows it before anything is imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestItem {
    /// `relative/path.py::Class::name`, relative to the root directory, `/`-separated.
    pub id: String,
    /// Index of the file in [`TestFile`] order; items of one file are contiguous.
    pub file: usize,
    /// The part of the id after `path::`, e.g. `TestX::test_y` or `test_y`.
    pub name: String,
    /// Enclosing class, if any.
    pub class: Option<String>,
    /// 1-based line of the `def`.
    pub line: u32,
    pub style: Style,
    pub is_async: bool,
    pub kind: Kind,
    /// Tags from `@test(tags=[...])` and pytest marks, as literal strings.
    pub tags: Vec<String>,
    /// Literal skip reason, when the skip is unconditional and known statically.
    pub skip: Option<String>,
    /// Literal per-test timeout in seconds.
    pub timeout: Option<f64>,
    /// The test's class has (or may have) class-level set-up (`setUpClass`,
    /// `setup_class`, `setup_suite`...), so the class's tests share one worker.
    /// Without it they are independent and can spread across workers.
    pub class_setup: bool,
    /// A test class of this module inherits from another one, a sign that the
    /// classes share state and rely on file order: all class tests of the module
    /// run as one block, in order, on one worker.
    pub coupled_classes: bool,
}

/// The scheduling group of the class tests of a module whose classes are coupled.
pub const COUPLED_CLASSES_GROUP: &str = "<classes of the module>";

impl TestItem {
    /// What this test must share a worker (and a shard) with, if anything: every
    /// class test of its module when the module's classes are coupled, else its
    /// class when that class has class-level set-up.
    pub fn shared_class(&self) -> Option<&str> {
        if !self.style.keeps_class_together() {
            None
        } else if self.coupled_classes {
            Some(COUPLED_CLASSES_GROUP)
        } else if self.class_setup {
            self.class.as_deref()
        } else {
            None
        }
    }
}

/// A test or benchmark file found by discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Path relative to the root directory, `/`-separated; the prefix of every item id.
    pub rel: String,
    /// Dotted module name the worker imports it under (pytest's `prepend` rule).
    pub module: String,
    /// Directory that must be on `sys.path` for `module` to import.
    pub import_root: PathBuf,
    /// `bench_*.py` rather than a test file.
    pub is_benchmark: bool,
}

/// Final status of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
    Xfailed,
    Xpassed,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::Error,
        Outcome::Skipped,
        Outcome::Xfailed,
        Outcome::Xpassed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::Xfailed => "xfailed",
            Outcome::Xpassed => "xpassed",
        }
    }

    /// Whether this outcome makes the run fail (exit code 1). As in pytest, an
    /// unexpected pass of a non-strict xfail does not (a strict one, and a
    /// unittest unexpected success, are reported as failures by the worker).
    pub fn fails_run(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Error)
    }
}

/// The lifecycle phase a result ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Importing the test module (or resolving the test in it).
    Import,
    Setup,
    Call,
    Teardown,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Import => "import",
            Phase::Setup => "setup",
            Phase::Call => "call",
            Phase::Teardown => "teardown",
        }
    }
}

/// Why a test ended as an error, beyond "the test raised".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The test (or its set-up/teardown) raised an exception.
    Exception,
    /// The test ran past its timeout and its worker was ended.
    Timeout,
    /// The worker process died while running the test.
    Crash,
    /// The test module failed to import.
    Import,
    /// The static collector listed the test but the module does not define it.
    Missing,
    /// The worker broke the protocol (corrupt or oversized frame).
    Protocol,
    /// The file could not be collected (syntax error, unreadable).
    Collection,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Exception => "exception",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Crash => "crash",
            ErrorKind::Import => "import",
            ErrorKind::Missing => "missing",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Collection => "collection",
        }
    }
}

/// Everything recorded about one finished test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub id: String,
    pub outcome: Outcome,
    pub phase: Phase,
    pub error_kind: Option<ErrorKind>,
    /// Seconds spent in set-up, call and teardown.
    pub duration: f64,
    /// 1-based worker slot that ran it (0 when no worker did, e.g. collection errors).
    pub worker: u32,
    /// One-line summary: the exception line, the skip reason, "timed out after 3 s".
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// Runs it took (1 unless `--retries` reran a failure).
    #[serde(default = "one")]
    pub attempts: u32,
    /// Failed, then passed on a retry.
    #[serde(default)]
    pub flaky: bool,
    /// `subTest` blocks of this test that passed (failed ones are results of their own).
    #[serde(default)]
    pub subtests_passed: u32,
    /// For a failed `subTest` block: the id of the test it belongs to.
    #[serde(default)]
    pub parent: Option<String>,
    /// What the worker noticed without changing the outcome.
    #[serde(default)]
    pub warnings: Vec<String>,
}

fn one() -> u32 {
    1
}

impl TestResult {
    /// A result with no duration, worker, message or output yet.
    pub fn new(id: impl Into<String>, outcome: Outcome, phase: Phase) -> TestResult {
        TestResult {
            id: id.into(),
            outcome,
            phase,
            error_kind: None,
            duration: 0.0,
            worker: 0,
            message: None,
            traceback: None,
            stdout: None,
            stderr: None,
            attempts: 1,
            flaky: false,
            subtests_passed: 0,
            parent: None,
            warnings: Vec::new(),
        }
    }
}
