//! The run report as data: the versioned JSON document (`--json FILE`,
//! `--format json`) that the JUnit and Markdown reports are rendered from and
//! that `dbtest merge` combines.
//!
//! The schema is documented in `docs/json-report.md`; change the two in the
//! same commit. Within version 1, fields are only ever added (readers must
//! ignore fields they do not know), so an old reader keeps working on a newer
//! report; renaming, removing or changing the meaning of a field bumps
//! [`REPORT_VERSION`].

use dbtest_model::{ErrorKind, Outcome, Phase, TestResult};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// The value of `schema`: tells a dbtest report from any other JSON file.
pub const REPORT_SCHEMA: &str = "dbtest-report";
/// The value of `version` this dbtest writes and reads.
pub const REPORT_VERSION: u32 = 1;

/// A document that is not a dbtest report this version can read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("not a dbtest JSON report: {0}")]
    Json(String),
    #[error("not a dbtest JSON report (schema is {0}, expected \"dbtest-report\")")]
    Schema(String),
    #[error("unsupported dbtest report version {0} (this dbtest reads version {REPORT_VERSION})")]
    Version(u64),
}

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// Always [`REPORT_VERSION`].
    pub version: u32,
    pub run: RunInfo,
    pub totals: Totals,
    /// One entry per test, in the order the results were recorded.
    pub tests: Vec<TestReport>,
    /// What the run set out to run, for `dbtest merge` to check that every
    /// test ran somewhere. `None` in merged reports, in reports of `--lf`
    /// reruns, and in reports written before this field existed.
    #[serde(default)]
    pub plan: Option<PlanInfo>,
}

/// What a run planned, as `dbtest merge` checks it: shards of one matrix must
/// agree on the selection, their planned tests must add up to it, and every
/// planned test (or test one shard found at import for another) must have a
/// result in some report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlanInfo {
    /// Tests the static pass found in the whole selection, before sharding:
    /// every shard of a matrix computes the same number.
    pub selected: u64,
    /// Of those tests' ids: the wrapping sum of their 64-bit FNV-1a hashes,
    /// as 16 lowercase hex digits. Shards of one selection agree on it.
    pub selection_digest: String,
    /// Ids of the statically found tests this run planned (under `--shard`,
    /// its share of the selection), each with a result in `tests` unless the
    /// run stopped early.
    pub planned: Vec<String>,
    /// Ids of selected tests this shard found at import that belong to
    /// another shard (which must have run them), sorted.
    #[serde(default)]
    pub elsewhere: Vec<String>,
    /// Ids among `planned` that turned out not to be tests once their module
    /// was imported (as under pytest, they count nowhere), sorted.
    #[serde(default)]
    pub withdrawn: Vec<String>,
}

impl PlanInfo {
    /// The digest as written: 16 lowercase hex digits.
    pub fn digest_text(digest: u64) -> String {
        format!("{digest:016x}")
    }
}

/// Facts about the run as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// When the run started, RFC 3339 in UTC with milliseconds:
    /// `2026-05-01T12:00:00.123Z`.
    pub started_at: String,
    /// Wall-clock seconds from start to the end of the report.
    pub duration: f64,
    /// Worker processes the run used (at most; 0 if nothing ran).
    pub workers: u32,
    /// The shard this run was, `null` when not sharded (or merged).
    pub shard: Option<ShardInfo>,
    /// Ctrl-C stopped the run; results are partial.
    pub interrupted: bool,
    /// Selected tests that never ran (interrupted, `--maxfail`, fail-fast).
    pub not_run: u64,
    /// Why dispatching stopped early (`--maxfail`, too many worker crashes).
    #[serde(default)]
    pub stopped: Option<String>,
    pub dbtest_version: String,
    /// Version of the interpreter the workers ran, when known (`3.12.3`).
    #[serde(default)]
    pub python: Option<String>,
    /// `--flaky-result fail`: flaky tests fail this run.
    #[serde(default)]
    pub flaky_fails: bool,
    /// `--shuffle`: the seed of the run's order.
    #[serde(default)]
    pub seed: Option<u64>,
}

/// `--shard index/total`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: u32,
    pub total: u32,
}

impl std::fmt::Display for ShardInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

/// Counts by final outcome, as the console's summary line gives them: `flaky`
/// counts tests that passed only after failing earlier attempts, and they are
/// not in `passed`; `subtests_passed` counts passed `subTest` blocks (failed
/// ones are tests of their own in `tests`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub skipped: u64,
    pub xfailed: u64,
    pub xpassed: u64,
    pub flaky: u64,
    #[serde(default)]
    pub subtests_passed: u64,
}

impl Totals {
    pub fn of(tests: &[TestReport]) -> Totals {
        let mut counts = crate::Counts::default();
        for test in tests {
            counts.add_outcome(test.outcome, test.flaky, test.subtests_passed);
        }
        let n = |v: usize| v as u64;
        Totals {
            passed: n(counts.passed),
            failed: n(counts.failed),
            errors: n(counts.errors),
            skipped: n(counts.skipped),
            xfailed: n(counts.xfailed),
            xpassed: n(counts.xpassed),
            flaky: n(counts.flaky),
            subtests_passed: n(counts.subtests_passed),
        }
    }

    /// Whether these totals make the run fail (see [`crate::fails_the_run`]).
    pub fn any_failure(&self, flaky_fails: bool) -> bool {
        crate::fails_the_run(self.failed + self.errors > 0, self.flaky > 0, flaky_fails)
    }

    /// Number of tests.
    pub fn tests(&self) -> u64 {
        self.passed
            + self.flaky
            + self.failed
            + self.errors
            + self.skipped
            + self.xfailed
            + self.xpassed
    }

    /// The console's counts, for [`crate::summary_line`].
    pub fn counts(&self) -> crate::Counts {
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        crate::Counts {
            passed: n(self.passed),
            failed: n(self.failed),
            errors: n(self.errors),
            skipped: n(self.skipped),
            xfailed: n(self.xfailed),
            xpassed: n(self.xpassed),
            flaky: n(self.flaky),
            subtests_passed: n(self.subtests_passed),
        }
    }
}

/// One test's final result, with its earlier attempts when it was retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// `path/to/test_x.py::Class::name`.
    pub id: String,
    /// Outcome of the final attempt.
    pub outcome: Outcome,
    pub phase: Phase,
    pub error_kind: Option<ErrorKind>,
    /// Seconds of the final attempt.
    pub duration: f64,
    /// 1-based worker slot of the final attempt; 0 when no worker ran it.
    pub worker: u32,
    /// How many times the test ran: 1 unless retried (`--retries`).
    pub attempts: u32,
    /// Failed at first, passed on a retry.
    pub flaky: bool,
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// The attempts before the final one, oldest first; empty unless retried.
    #[serde(default)]
    pub previous_attempts: Vec<Attempt>,
    /// Passed `subTest` blocks of this test.
    #[serde(default)]
    pub subtests_passed: u32,
    /// For a failed `subTest` block: the id of its test.
    #[serde(default)]
    pub parent: Option<String>,
    /// What the worker noticed without changing the outcome (e.g. child
    /// processes the test left running, which it ended).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// For a test that failed or errored: its outcome when rerun in a fresh
    /// worker (`passed`: it may depend on other tests); null when it was not
    /// rerun.
    #[serde(default)]
    pub alone: Option<Outcome>,
    /// How many tests before it in its module ran before it in that rerun
    /// (0: it ran alone).
    #[serde(default)]
    pub rerun_after: u32,
    /// Seconds from `run.started_at` to the start of the final attempt, on
    /// its worker; null when no worker ran it.
    #[serde(default)]
    pub start: Option<f64>,
    /// In a merged report, the shard it ran in (its `run.shard.index`, or the
    /// position of its report among the merged ones when unsharded): worker
    /// slots are per shard. Null in the report of a single run.
    #[serde(default)]
    pub shard: Option<u32>,
}

/// One earlier run of a retried test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub outcome: Outcome,
    pub phase: Phase,
    pub error_kind: Option<ErrorKind>,
    pub duration: f64,
    pub worker: u32,
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// Seconds from `run.started_at` to its start.
    #[serde(default)]
    pub start: Option<f64>,
}

impl From<TestResult> for Attempt {
    fn from(mut r: TestResult) -> Attempt {
        let detail = r.take_detail();
        Attempt {
            outcome: r.outcome,
            phase: r.phase,
            error_kind: r.error_kind,
            duration: finite(r.duration),
            worker: r.worker,
            message: detail.message,
            traceback: detail.traceback,
            stdout: detail.stdout,
            stderr: detail.stderr,
            start: r.start().map(finite),
        }
    }
}

impl TestReport {
    /// A test that ran once.
    pub fn from_result(mut result: TestResult) -> TestReport {
        let detail = result.take_detail();
        let start = result.start().map(finite);
        TestReport {
            id: result.id,
            outcome: result.outcome,
            phase: result.phase,
            error_kind: result.error_kind,
            duration: finite(result.duration),
            worker: result.worker,
            attempts: result.attempts.max(1),
            flaky: result.flaky,
            message: detail.message,
            traceback: detail.traceback,
            stdout: detail.stdout,
            stderr: detail.stderr,
            previous_attempts: Vec::new(),
            subtests_passed: result.subtests_passed,
            parent: detail.parent,
            warnings: detail.warnings,
            alone: result.alone,
            rerun_after: detail.rerun_after,
            start,
            shard: None,
        }
    }

    /// A test from all its attempts, oldest first (the last one is final).
    /// `None` for no attempts. It is flaky when it finally passed after an
    /// attempt that would have failed the run.
    pub fn from_attempts(mut attempts: Vec<TestResult>) -> Option<TestReport> {
        let last = attempts.pop()?;
        let previous: Vec<Attempt> = attempts.into_iter().map(Attempt::from).collect();
        let mut report = TestReport::from_result(last);
        report.attempts = report
            .attempts
            .max(u32::try_from(previous.len() + 1).unwrap_or(u32::MAX));
        report.flaky |=
            report.outcome == Outcome::Passed && previous.iter().any(|a| a.outcome.fails_run());
        report.previous_attempts = previous;
        Some(report)
    }

    /// The file part of the id (`tests/test_a.py`); the whole id when it has
    /// no `::` (a collection error names only its file).
    pub fn file(&self) -> &str {
        self.id.split_once("::").map_or(self.id.as_str(), |p| p.0)
    }
}

impl RunInfo {
    /// Run facts with the defaults of an ordinary, complete, unsharded run.
    pub fn new(started_at: SystemTime, duration: Duration, workers: u32) -> RunInfo {
        RunInfo {
            started_at: rfc3339(started_at),
            duration: finite(duration.as_secs_f64()),
            workers,
            shard: None,
            interrupted: false,
            not_run: 0,
            stopped: None,
            dbtest_version: env!("CARGO_PKG_VERSION").to_string(),
            python: None,
            flaky_fails: false,
            seed: None,
        }
    }
}

/// Seconds as written: JSON has no NaN or infinity (serde_json would write
/// `null`, which would then not read back), and no duration is negative.
pub(crate) fn finite(seconds: f64) -> f64 {
    if seconds.is_finite() && seconds > 0.0 {
        seconds
    } else {
        0.0
    }
}

/// `2026-05-01T12:00:00.123Z`.
pub fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl RunReport {
    /// The report of a run from its tests.
    pub fn new(run: RunInfo, tests: Vec<TestReport>) -> RunReport {
        RunReport {
            schema: REPORT_SCHEMA.to_string(),
            version: REPORT_VERSION,
            run,
            totals: Totals::of(&tests),
            tests,
            plan: None,
        }
    }

    /// The report of a run from the results as recorded. Several results with
    /// one id are that test's attempts, in order (the failed attempts of a
    /// retried test, as the runner reports them, then its final result); the
    /// test keeps the position of its first attempt.
    pub fn from_results(run: RunInfo, results: impl IntoIterator<Item = TestResult>) -> RunReport {
        let mut order: Vec<Vec<TestResult>> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        for result in results {
            match position.get(&result.id) {
                Some(&i) => order[i].push(result),
                None => {
                    position.insert(result.id.clone(), order.len());
                    order.push(vec![result]);
                }
            }
        }
        let tests = order
            .into_iter()
            .filter_map(TestReport::from_attempts)
            .collect();
        RunReport::new(run, tests)
    }

    /// The document, pretty-printed, newline-terminated.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serializing cannot fail, except for
        // non-finite floats, which serde_json writes as null.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a document, checking `schema` and `version` before anything else
    /// so that a foreign or future file gets a clear error.
    pub fn from_json(text: &str) -> Result<RunReport, ReportError> {
        #[derive(Deserialize)]
        struct Header {
            schema: Option<serde_json::Value>,
            version: Option<serde_json::Value>,
        }
        let header: Header =
            serde_json::from_str(text).map_err(|e| ReportError::Json(e.to_string()))?;
        match header.schema {
            Some(serde_json::Value::String(s)) if s == REPORT_SCHEMA => {}
            Some(other) => return Err(ReportError::Schema(other.to_string())),
            None => return Err(ReportError::Json("no \"schema\" field".into())),
        }
        match header.version.as_ref().and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(REPORT_VERSION) => {}
            Some(v) => return Err(ReportError::Version(v)),
            None => return Err(ReportError::Json("no numeric \"version\" field".into())),
        }
        serde_json::from_str(text).map_err(|e| ReportError::Json(e.to_string()))
    }

    /// Tests that make the run fail (failed, error), in report order.
    pub fn failures(&self) -> impl Iterator<Item = &TestReport> {
        self.tests.iter().filter(|t| t.outcome.fails_run())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn result(id: &str, outcome: Outcome) -> TestResult {
        let failing = outcome.fails_run();
        let mut result = TestResult::new(id, outcome, Phase::Call);
        result.error_kind = (outcome == Outcome::Error).then_some(ErrorKind::Exception);
        result.duration = 0.25;
        result.worker = 1;
        result.message = failing.then(|| format!("AssertionError: {id} < & > \"boom\""));
        result.traceback = failing.then(|| {
            "Traceback (most recent call last):\n  File \"t.py\", line 3\n    assert a == b\nAssertionError: 1 != 2\n"
                .to_string()
        });
        result.stdout = failing.then(|| "printed <out>\n".to_string());
        result
    }

    pub fn sample(shard: Option<(u32, u32)>, ids: &[(&str, Outcome)]) -> RunReport {
        let mut run = RunInfo::new(
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_777_636_800_123),
            Duration::from_millis(1500),
            2,
        );
        run.shard = shard.map(|(index, total)| ShardInfo { index, total });
        run.python = Some("3.12.3".into());
        RunReport::from_results(run, ids.iter().map(|(id, o)| result(id, *o)))
    }

    #[test]
    fn json_round_trip() {
        let mut report = sample(
            Some((2, 4)),
            &[
                ("tests/test_a.py::test_ok", Outcome::Passed),
                ("tests/test_a.py::TestX::test_bad", Outcome::Failed),
                ("tests/test_b.py::test_skip", Outcome::Skipped),
                ("tests/test_b.py::test_err", Outcome::Error),
            ],
        );
        report.tests[0].stdout = Some("unicode ✓ and \u{1b}[31mansi\u{1b}[0m".into());
        let text = report.to_json();
        let back = RunReport::from_json(&text).unwrap();
        assert_eq!(back, report);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["schema"], "dbtest-report");
        assert_eq!(value["version"], 1);
        assert_eq!(value["run"]["started_at"], "2026-05-01T12:00:00.123Z");
        assert_eq!(
            value["run"]["shard"],
            serde_json::json!({"index": 2, "total": 4})
        );
        assert_eq!(
            value["totals"],
            serde_json::json!({"passed": 1, "failed": 1, "errors": 1, "skipped": 1,
                               "xfailed": 0, "xpassed": 0, "flaky": 0, "subtests_passed": 0})
        );
        let test = &value["tests"][3];
        assert_eq!(test["outcome"], "error");
        assert_eq!(test["error_kind"], "exception");
        assert_eq!(test["phase"], "call");
        assert_eq!(test["attempts"], 1);
        assert_eq!(test["flaky"], false);
        for field in [
            "id",
            "outcome",
            "phase",
            "error_kind",
            "duration",
            "worker",
            "attempts",
            "flaky",
            "message",
            "traceback",
            "stdout",
            "stderr",
            "previous_attempts",
        ] {
            assert!(test.get(field).is_some(), "missing {field}");
        }
    }

    #[test]
    fn the_plan_round_trips() {
        let mut report = sample(Some((1, 2)), &[("a.py::t", Outcome::Passed)]);
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(value["plan"], serde_json::Value::Null);
        report.plan = Some(PlanInfo {
            selected: 2,
            selection_digest: PlanInfo::digest_text(0xab),
            planned: vec!["a.py::t".into()],
            elsewhere: vec!["a.py::gen_1".into()],
            withdrawn: vec![],
        });
        let text = report.to_json();
        assert_eq!(RunReport::from_json(&text).unwrap(), report);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["plan"],
            serde_json::json!({"selected": 2, "selection_digest": "00000000000000ab",
                               "planned": ["a.py::t"], "elsewhere": ["a.py::gen_1"], "withdrawn": []})
        );
    }

    #[test]
    fn retries_become_attempts_and_flaky() {
        let mut run_again = result("t.py::test_flaky", Outcome::Passed);
        run_again.worker = 2;
        let report = RunReport::from_results(
            RunInfo::new(SystemTime::UNIX_EPOCH, Duration::ZERO, 2),
            [
                result("t.py::test_flaky", Outcome::Failed),
                result("t.py::test_bad", Outcome::Failed),
                result("t.py::test_bad", Outcome::Error),
                run_again,
            ],
        );
        assert_eq!(report.tests.len(), 2);
        let flaky = &report.tests[0];
        assert_eq!(
            (flaky.outcome, flaky.attempts, flaky.flaky, flaky.worker),
            (Outcome::Passed, 2, true, 2)
        );
        assert_eq!(flaky.previous_attempts[0].outcome, Outcome::Failed);
        let bad = &report.tests[1];
        assert_eq!(
            (bad.outcome, bad.attempts, bad.flaky),
            (Outcome::Error, 2, false)
        );
        assert_eq!(
            report.totals.passed, 0,
            "a flaky test is not counted as passed"
        );
        assert_eq!(report.totals.flaky, 1);
        assert_eq!(report.totals.errors, 1);
        assert_eq!(report.totals.tests(), 2);
    }

    #[test]
    fn older_minimal_documents_still_read() {
        // Optional fields may be missing; unknown ones are ignored.
        let text = r#"{"schema": "dbtest-report", "version": 1, "future": true,
            "run": {"started_at": "2026-01-01T00:00:00.000Z", "duration": 1.0, "workers": 1,
                    "shard": null, "interrupted": false, "not_run": 0, "dbtest_version": "0.1.0"},
            "totals": {"passed": 1, "failed": 0, "errors": 0, "skipped": 0, "xfailed": 0,
                       "xpassed": 0, "flaky": 0},
            "tests": [{"id": "a.py::t", "outcome": "passed", "phase": "call", "error_kind": null,
                       "duration": 0.1, "worker": 1, "attempts": 1, "flaky": false,
                       "message": null, "traceback": null, "stdout": null, "stderr": null}]}"#;
        let report = RunReport::from_json(text).unwrap();
        assert_eq!(report.run.python, None);
        assert_eq!(report.plan, None);
        assert!(report.tests[0].previous_attempts.is_empty());
    }

    #[test]
    fn foreign_documents_are_rejected_clearly() {
        let error = |text: &str| RunReport::from_json(text).unwrap_err().to_string();
        assert_eq!(
            error(r#"{"schema": "dbtest-report", "version": 2}"#),
            "unsupported dbtest report version 2 (this dbtest reads version 1)"
        );
        assert_eq!(
            error(r#"{"schema": "other", "version": 1}"#),
            "not a dbtest JSON report (schema is \"other\", expected \"dbtest-report\")"
        );
        assert!(error(r#"{"version": 1}"#).starts_with("not a dbtest JSON report"));
        assert!(error("[]").starts_with("not a dbtest JSON report"));
        assert!(
            error(r#"{"schema": "dbtest-report", "version": 1, "run": 3}"#)
                .starts_with("not a dbtest JSON report")
        );
    }

    #[test]
    fn merged_totals_fail_as_a_run_would() {
        let totals = Totals {
            passed: 2,
            flaky: 1,
            ..Totals::default()
        };
        assert!(!totals.any_failure(false));
        assert!(totals.any_failure(true));
        let failed = Totals {
            failed: 1,
            ..Totals::default()
        };
        assert!(failed.any_failure(false));
    }
}
