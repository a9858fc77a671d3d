//! The vocabulary every other dbtest crate speaks: what a test item is (as the
//! static collector sees it) and what a result is (as the runner records it).
//!
//! This crate holds data only, the live-reporting hooks ([`RunObserver`]) that
//! carry it, and the one rule every crate applies to missing durations
//! ([`mean_duration`]); behaviour lives in the crates that own it.

mod duration;
mod observer;

pub use duration::{is_duration, mean_duration};
pub use observer::{RunObserver, Running};

mod id;
mod result;

pub use id::{node_id, path_of, TestId, TestName};
pub use result::{ResultDetail, TestResult};
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
        Kind::of_path(rel_path).with_tags(tags)
    }

    /// The kind the location alone gives (`rel_path` may be a test id).
    pub fn of_path(rel_path: &str) -> Kind {
        let path = path_of(rel_path);
        if path.split('/').any(|part| part == "integration") {
            Kind::Integration
        } else {
            Kind::Unit
        }
    }

    /// This kind, made `integration` by an `integration` tag.
    pub fn with_tags(self, tags: &[String]) -> Kind {
        if self == Kind::Unit && tags.iter().any(|t| t == "integration") {
            Kind::Integration
        } else {
            self
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
///
/// Kept small on purpose: a run holds one per collected test (50,000 in a large
/// suite) until its plan is built. The name and class are slices of the id, and
/// the marks, which most tests have none of, live behind one pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct TestItem {
    /// `relative/path.py::Class::name`, relative to the root directory, `/`-separated.
    pub id: Box<str>,
    /// Index of the file in [`TestFile`] order; items of one file are contiguous.
    pub file: usize,
    /// Where the name starts in `id` (after `path::`).
    name_start: u32,
    /// Length of the enclosing class's part of the name (0: no class).
    class_len: u32,
    /// 1-based line of the `def`.
    pub line: u32,
    pub style: Style,
    pub is_async: bool,
    pub kind: Kind,
    /// The test's class has (or may have) class-level set-up (`setUpClass`,
    /// `setup_class`, `setup_suite`...), so the class's tests share one worker.
    /// Without it they are independent and can spread across workers.
    pub class_setup: bool,
    /// A test class of this module inherits from another one, a sign that the
    /// classes share state and rely on file order: all class tests of the module
    /// run as one block, in order, on one worker.
    pub coupled_classes: bool,
    /// The test takes pytest-benchmark's `benchmark` fixture: `dbtest bench`
    /// measures it (plain runs call it once).
    pub uses_benchmark: bool,
    marks: Option<Box<StaticMarks>>,
}

/// What decorators say of a test, as literals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaticMarks {
    /// Tags from `@test(tags=[...])` and pytest marks.
    pub tags: Vec<String>,
    /// Skip reason, when the skip is unconditional.
    pub skip: Option<String>,
    /// Per-test timeout in seconds.
    pub timeout: Option<f64>,
}

impl StaticMarks {
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.skip.is_none() && self.timeout.is_none()
    }
}

impl TestItem {
    /// The test `name` (`test_x`, `Class::test_x`) of the file `rel`; `class`
    /// is the leading part of `name` that names its class or group, if any.
    pub fn new(rel: &str, name: &str, class: Option<&str>, file: usize, style: Style) -> TestItem {
        let class_len = class.map_or(0, |c| {
            let is_prefix = name
                .strip_prefix(c)
                .is_some_and(|rest| rest.starts_with("::"));
            debug_assert!(is_prefix, "class {c:?} is not a prefix of {name:?}");
            if is_prefix {
                c.len()
            } else {
                0
            }
        });
        let id = format!("{rel}::{name}").into_boxed_str();
        TestItem {
            name_start: offset(id.len() - name.len()),
            class_len: offset(class_len),
            id,
            file,
            line: 0,
            style,
            is_async: false,
            kind: Kind::Unit,
            class_setup: false,
            coupled_classes: false,
            uses_benchmark: false,
            marks: None,
        }
    }

    /// The part of the id after `path::`, e.g. `TestX::test_y` or `test_y`.
    pub fn name(&self) -> &str {
        &self.id[self.name_start as usize..]
    }

    /// Enclosing class (or benchmark group), if any.
    pub fn class(&self) -> Option<&str> {
        (self.class_len > 0).then(|| &self.name()[..self.class_len as usize])
    }

    pub fn tags(&self) -> &[String] {
        self.marks.as_ref().map_or(&[], |m| &m.tags)
    }

    pub fn skip(&self) -> Option<&str> {
        self.marks.as_ref().and_then(|m| m.skip.as_deref())
    }

    pub fn timeout(&self) -> Option<f64> {
        self.marks.as_ref().and_then(|m| m.timeout)
    }

    pub fn set_marks(&mut self, marks: StaticMarks) {
        self.marks = (!marks.is_empty()).then(|| Box::new(marks));
    }

    /// What this test must share a worker (and a shard) with, if anything: every
    /// class test of its module when the module's classes are coupled, else its
    /// class when that class has class-level set-up.
    pub fn shared_class(&self) -> Option<&str> {
        if !self.style.keeps_class_together() {
            None
        } else if self.coupled_classes {
            Some(COUPLED_CLASSES_GROUP)
        } else if self.class_setup {
            self.class()
        } else {
            None
        }
    }
}

/// An offset into an id. Ids are file paths plus names; one of 4 GiB is not a
/// test id anyone can write.
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The scheduling group of the class tests of a module whose classes are coupled.
pub const COUPLED_CLASSES_GROUP: &str = "<classes of the module>";

/// The scheduling group of a test found only at import (`name` within its
/// module): its class, whatever the class defines, since nothing tells the
/// coordinator whether it has class-level set-up. The static counterpart is
/// [`TestItem::shared_class`].
pub fn unlisted_group(name: &str) -> Option<&str> {
    TestName::new(name).class()
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
    /// The test was running when the run was interrupted (Ctrl-C, SIGTERM).
    Interrupted,
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
            ErrorKind::Interrupted => "interrupted",
        }
    }
}

/// What a report says of a test with this outcome in the run, outcome when
/// rerun (`alone`) and number of tests run before it in the rerun.
pub fn rerun_note(outcome: Outcome, alone: Option<Outcome>, rerun_after: u32) -> Option<String> {
    if !outcome.fails_run() || alone != Some(Outcome::Passed) {
        return None;
    }
    Some(if rerun_after == 0 {
        PASSES_ALONE.to_string()
    } else {
        format!(
            "passes after the {} before it: depends on them",
            counted(rerun_after, "test", "tests")
        )
    })
}

/// `1 error`, `2 errors`, `0 errors`: a count with its noun in the right number.
pub fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What the report says of a test that [passes alone](TestResult::passes_alone).
pub const PASSES_ALONE: &str = "passes alone: may depend on other tests";

/// 64-bit FNV-1a: fixed, portable, and good enough to spread test ids over
/// shards and to stand for them in large sets and maps. Never
/// `std`'s `DefaultHasher`, whose output may change between Rust releases
/// (and `RandomState` between runs).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_found_at_import_is_grouped_with_its_class_whatever_its_parameters_hold() {
        assert_eq!(unlisted_group("test_f"), None);
        assert_eq!(unlisted_group("test_f[a::b]"), None);
        assert_eq!(unlisted_group("TestX::test_y"), Some("TestX"));
        assert_eq!(unlisted_group("TestX::test_y[a::b]"), Some("TestX"));
        assert_eq!(unlisted_group("A::B::test_y[1]"), Some("A::B"));
    }

    #[test]
    fn counts_take_the_right_number() {
        assert_eq!(counted(1u32, "error", "errors"), "1 error");
        assert_eq!(counted(0u32, "error", "errors"), "0 errors");
        assert_eq!(counted(2u64, "test", "tests"), "2 tests");
    }

    #[test]
    fn an_item_slices_its_name_and_class_out_of_its_id() {
        let mut item = TestItem::new(
            "pkg/test_a.py",
            "TestX::test_y",
            Some("TestX"),
            3,
            Style::PlainClass,
        );
        assert_eq!(&*item.id, "pkg/test_a.py::TestX::test_y");
        assert_eq!(item.name(), "TestX::test_y");
        assert_eq!(item.class(), Some("TestX"));
        assert_eq!(item.tags(), [] as [String; 0]);
        item.set_marks(StaticMarks {
            tags: vec!["slow".into()],
            skip: None,
            timeout: Some(2.0),
        });
        assert_eq!(item.tags(), ["slow"]);
        assert_eq!(item.timeout(), Some(2.0));
        assert_eq!(item.skip(), None);

        let function = TestItem::new("t.py", "test_f", None, 0, Style::Function);
        assert_eq!((function.name(), function.class()), ("test_f", None));
        let nested = TestItem::new("t.py", "A::B::test_f", Some("A::B"), 0, Style::PlainClass);
        assert_eq!(nested.class(), Some("A::B"));
    }

    #[test]
    fn an_item_without_marks_stays_small() {
        assert!(std::mem::size_of::<TestItem>() <= 64);
    }
}
