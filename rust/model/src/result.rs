//! What is recorded about one finished test.
//!
//! A run holds every result until it ends (the summary, the durations file,
//! the reports read them all), so a result is kept small: its verdict and
//! numbers inline, everything else — message, traceback, captured output,
//! warnings, the parent of a `subTest` block — in one [`ResultDetail`] behind
//! a pointer that is null for most results (a passing test that printed
//! nothing). 64 bytes a result instead of 200: on 100,000 tests, 13 MB less
//! coordinator memory.
//!
//! The detail's fields read and write as the result's own (`result.message`),
//! through `Deref`/`DerefMut`: reading a result without detail sees an empty
//! one, writing allocates it. Code that sets several fields at once on a hot
//! path uses [`TestResult::set_detail`], which allocates nothing when there
//! is nothing to keep.

use crate::{ErrorKind, Outcome, Phase};
use std::ops::{Deref, DerefMut};

/// Everything recorded about one finished test.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub id: String,
    /// Seconds spent in set-up, call and teardown.
    pub duration: f64,
    /// 1-based worker slot that ran it (0 when no worker did, e.g. collection errors).
    pub worker: u32,
    /// Runs it took (1 unless `--retries` reran a failure).
    pub attempts: u32,
    /// `subTest` blocks of this test that passed (failed ones are results of their own).
    pub subtests_passed: u32,
    pub outcome: Outcome,
    pub phase: Phase,
    pub error_kind: Option<ErrorKind>,
    /// Failed, then passed on a retry.
    pub flaky: bool,
    /// For a test that failed or errored in the run: its outcome when rerun
    /// in a fresh worker, alone or after the tests before it in its module
    /// (`rerun_after`, in the detail). `Passed`: it may depend on other tests.
    pub alone: Option<Outcome>,
    /// When it started, in seconds from the start of the run (its worker's
    /// timeline); NaN when no worker ran it. `f32` keeps the result in 64
    /// bytes (a tenth of a millisecond after an hour): see [`TestResult::start`].
    start: f32,
    /// Null when there is nothing but the verdict to keep.
    detail: Option<Box<ResultDetail>>,
}

/// What a result may hold beyond its verdict and numbers; read and written
/// as fields of the [`TestResult`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultDetail {
    /// One-line summary: the exception line, the skip reason, "timed out after 3 s".
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// For a failed `subTest` block: the id of the test it belongs to.
    pub parent: Option<String>,
    /// What the worker noticed without changing the outcome.
    pub warnings: Vec<String>,
    /// How many of the tests before it in its module ran before it when it
    /// was rerun (0: it ran alone); only failures are rerun.
    pub rerun_after: u32,
}

impl ResultDetail {
    pub fn is_empty(&self) -> bool {
        self.message.is_none()
            && self.traceback.is_none()
            && self.stdout.is_none()
            && self.stderr.is_none()
            && self.parent.is_none()
            && self.warnings.is_empty()
            && self.rerun_after == 0
    }
}

/// What a result without detail reads as.
static NO_DETAIL: ResultDetail = ResultDetail {
    message: None,
    traceback: None,
    stdout: None,
    stderr: None,
    parent: None,
    warnings: Vec::new(),
    rerun_after: 0,
};

impl TestResult {
    /// A result with no duration, worker, message or output yet.
    pub fn new(id: impl Into<String>, outcome: Outcome, phase: Phase) -> TestResult {
        TestResult {
            id: id.into(),
            duration: 0.0,
            worker: 0,
            attempts: 1,
            subtests_passed: 0,
            outcome,
            phase,
            error_kind: None,
            flaky: false,
            alone: None,
            start: f32::NAN,
            detail: None,
        }
    }

    /// When it started, in seconds from the start of the run; `None` when no
    /// worker ran it.
    pub fn start(&self) -> Option<f64> {
        (!self.start.is_nan()).then_some(f64::from(self.start))
    }

    pub fn set_start(&mut self, seconds: Option<f64>) {
        // Narrowing on purpose (see the field).
        #[allow(clippy::cast_possible_truncation)]
        let narrowed = seconds.map_or(f32::NAN, |s| s as f32);
        self.start = narrowed;
    }

    /// What the report says of it if it failed in the run and passed when
    /// rerun: alone ([`crate::PASSES_ALONE`]), or after the tests before it.
    pub fn rerun_note(&self) -> Option<String> {
        crate::rerun_note(self.outcome, self.alone, self.rerun_after)
    }

    /// It failed in the run and passed when rerun alone in a fresh worker.
    pub fn passes_alone(&self) -> bool {
        self.outcome.fails_run() && self.alone == Some(Outcome::Passed)
    }

    /// Replaces the detail, keeping no allocation when it is empty.
    pub fn set_detail(&mut self, detail: ResultDetail) {
        self.detail = (!detail.is_empty()).then(|| Box::new(detail));
    }

    /// Takes the detail out (to move its text elsewhere), leaving none.
    pub fn take_detail(&mut self) -> ResultDetail {
        self.detail.take().map(|d| *d).unwrap_or_default()
    }

    /// Whether this result keeps anything beyond its verdict and numbers.
    pub fn has_detail(&self) -> bool {
        self.detail.as_ref().is_some_and(|d| !d.is_empty())
    }
}

impl Deref for TestResult {
    type Target = ResultDetail;
    fn deref(&self) -> &ResultDetail {
        self.detail.as_deref().unwrap_or(&NO_DETAIL)
    }
}

impl DerefMut for TestResult {
    fn deref_mut(&mut self) -> &mut ResultDetail {
        self.detail.get_or_insert_with(Box::default)
    }
}

/// Equal when everything recorded is, whether an empty detail is allocated or not.
impl PartialEq for TestResult {
    fn eq(&self, other: &TestResult) -> bool {
        self.id == other.id
            && self.duration == other.duration
            && self.worker == other.worker
            && self.attempts == other.attempts
            && self.subtests_passed == other.subtests_passed
            && self.outcome == other.outcome
            && self.phase == other.phase
            && self.error_kind == other.error_kind
            && self.flaky == other.flaky
            && self.alone == other.alone
            && self.start().map(f64::to_bits) == other.start().map(f64::to_bits)
            && **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_without_detail_stays_small_and_reads_empty() {
        assert!(std::mem::size_of::<TestResult>() <= 64);
        let result = TestResult::new("t.py::test_a", Outcome::Passed, Phase::Call);
        assert!(!result.has_detail());
        assert_eq!(
            (result.message.as_deref(), result.warnings.len()),
            (None, 0)
        );
    }

    #[test]
    fn detail_reads_and_writes_as_fields_of_the_result() {
        let mut result = TestResult::new("t.py::test_a", Outcome::Failed, Phase::Call);
        result.message = Some("AssertionError".into());
        result.warnings.push("slow".into());
        assert!(result.has_detail());
        assert_eq!(result.message.as_deref(), Some("AssertionError"));
        assert_eq!(result.warnings, ["slow"]);
        let detail = result.take_detail();
        assert_eq!(detail.message.as_deref(), Some("AssertionError"));
        assert!(!result.has_detail() && result.message.is_none());
    }

    #[test]
    fn an_empty_detail_keeps_nothing_and_compares_as_none() {
        let mut result = TestResult::new("t.py::test_a", Outcome::Passed, Phase::Call);
        result.set_detail(ResultDetail::default());
        assert!(result.detail.is_none());
        let mut touched = result.clone();
        touched.stdout = None; // allocates an empty detail
        assert!(touched.detail.is_some() && !touched.has_detail());
        assert_eq!(touched, result);
        result.set_detail(ResultDetail {
            stdout: Some("out".into()),
            ..ResultDetail::default()
        });
        assert_ne!(touched, result);
        assert_eq!(result.stdout.as_deref(), Some("out"));
    }
}
