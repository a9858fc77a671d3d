//! Counting results and the closing summary line.

use dbtest_model::{Outcome, TestResult};
use std::time::Duration;

/// Everything the end-of-run report needs.
#[derive(Debug)]
pub struct RunSummary<'a> {
    pub results: &'a [TestResult],
    pub elapsed: Duration,
    pub not_run: usize,
    pub interrupted: bool,
    /// Why dispatching stopped early (`--maxfail`, too many crashes).
    pub stopped: Option<&'a str>,
    /// `--flaky-result fail`: flaky tests fail the run.
    pub flaky_fails: bool,
    /// A section of its own before the short summary (`--cov`'s report).
    pub section: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed at the first attempt.
    pub passed: usize,
    /// Failed, then passed on a retry (not counted in `passed`).
    pub flaky: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
    pub xfailed: usize,
    pub xpassed: usize,
    /// Passed `subTest` blocks (not tests; failed ones are counted as results).
    pub subtests_passed: usize,
}

impl Counts {
    pub fn add(&mut self, result: &TestResult) {
        self.add_outcome(result.outcome, result.flaky, result.subtests_passed);
    }

    /// The one place that decides which count a result goes to (the console's
    /// counts and the JSON report's totals both use it).
    pub fn add_outcome(&mut self, outcome: Outcome, flaky: bool, subtests_passed: u32) {
        self.subtests_passed += subtests_passed as usize;
        match outcome {
            Outcome::Passed if flaky => self.flaky += 1,
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Error => self.errors += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Xfailed => self.xfailed += 1,
            Outcome::Xpassed => self.xpassed += 1,
        }
    }

    pub fn of(results: &[TestResult]) -> Counts {
        let mut counts = Counts::default();
        for result in results {
            counts.add(result);
        }
        counts
    }

    pub fn total(&self) -> usize {
        self.passed
            + self.flaky
            + self.failed
            + self.errors
            + self.skipped
            + self.xfailed
            + self.xpassed
    }

    /// Whether these results make the run fail.
    pub fn any_failure(&self, flaky_fails: bool) -> bool {
        fails_the_run(self.failed + self.errors > 0, self.flaky > 0, flaky_fails)
    }
}

/// The one rule for a failed run (exit code 1), for a run's results and for
/// merged shard reports alike: a failure or error, or under `--flaky-result
/// fail` a test that passed only on a retry.
pub fn fails_the_run(any_failed_or_errored: bool, any_flaky: bool, flaky_fails: bool) -> bool {
    any_failed_or_errored || (flaky_fails && any_flaky)
}

/// `4 passed, 1 failed, 2 errors, 1 skipped in 0.12s`: `passed` and `failed`
/// always appear, other zero counts are left out.
pub fn summary_line(counts: &Counts, not_run: usize, elapsed: Duration) -> String {
    let mut parts = vec![
        format!("{} passed", counts.passed),
        format!("{} failed", counts.failed),
    ];
    if counts.errors > 0 {
        parts.push(dbtest_model::counted(
            counts.errors as u64,
            "error",
            "errors",
        ));
    }
    for (n, label) in [
        (counts.flaky, "flaky"),
        (counts.skipped, "skipped"),
        (counts.xfailed, "xfailed"),
        (counts.xpassed, "xpassed"),
        (counts.subtests_passed, "subtests passed"),
        (not_run, "not run"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    format!("{} in {:.2}s", parts.join(", "), elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_always_has_passed_and_failed() {
        let counts = Counts {
            passed: 4,
            failed: 1,
            ..Counts::default()
        };
        assert_eq!(
            summary_line(&counts, 0, Duration::from_millis(120)),
            "4 passed, 1 failed in 0.12s"
        );
        let counts = Counts {
            passed: 0,
            errors: 2,
            skipped: 1,
            ..Counts::default()
        };
        assert_eq!(
            summary_line(&counts, 3, Duration::from_secs(2)),
            "0 passed, 0 failed, 2 errors, 1 skipped, 3 not run in 2.00s"
        );
    }

    #[test]
    fn errors_fail_a_run_and_flaky_tests_only_when_asked() {
        let flaky = Counts {
            passed: 3,
            flaky: 1,
            ..Counts::default()
        };
        assert!(!flaky.any_failure(false));
        assert!(flaky.any_failure(true));
        let errored = Counts {
            errors: 1,
            ..Counts::default()
        };
        assert!(errored.any_failure(false));
        assert!(!Counts::default().any_failure(true));
    }
}
