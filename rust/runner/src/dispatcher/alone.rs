//! Order dependence, diagnosed: a test that failed in the run is rerun in a
//! fresh worker in pytest's starting state: every selected test module
//! imported (the fork server imports them once, when the first rerun is due,
//! unless `--import-all` had it do so already). If it ran in the run right
//! after the test before it in its module (or first in its module), after
//! other tests, it is rerun alone: a test that passes alone may depend on what
//! other tests did before it, or on a module another one imports. If the tests
//! before it in its module did not run before it in its worker (its module
//! was split between workers, or its worker took it over from another), they
//! run before it in the rerun, as in pytest's order: a test that passes then
//! depends on them. Its outcome there goes on the run's result (`alone`, and
//! `rerun_after`: how many ran before it). The run's outcome stands: this is a
//! diagnosis, not a retry (`--retries` makes flaky verdicts). The first
//! `--rerun-alone N` failures of a run are (10 by default, 0: none).

use super::{Dispatcher, InFlight};
use dbtest_model::{ErrorKind, Outcome, Phase, TestResult};
use dbtest_protocol::{RunBatch, TestReport, ToWorker};
use std::time::Instant;

/// Tests that took longer than this (seconds) are not rerun.
const MAX_ALONE_SECONDS: f64 = 10.0;
/// At most this many tests before a test, and this many estimated seconds of
/// them, run before it in a rerun: a diagnosis must not double a failing run.
const MAX_EARLIER_TESTS: usize = 200;
const MAX_EARLIER_SECONDS: f64 = 5.0;

/// A failed test to rerun, where its result sits in the outcome, and the
/// tests before it in its module to run before it (none: alone).
#[derive(Debug, Clone)]
pub(super) struct Check {
    pub(super) test: usize,
    pub(super) result: usize,
    pub(super) earlier: Vec<usize>,
}

impl Dispatcher<'_> {
    /// Queues `result` (about to be published as the `results.len()`-th) for a
    /// rerun alone, if it is a failure worth one.
    pub(super) fn maybe_check_alone(&mut self, test: usize, result: &TestResult) {
        let failed = match result.outcome {
            Outcome::Failed => true,
            Outcome::Error => {
                result.error_kind == Some(ErrorKind::Exception) && result.phase != Phase::Import
            }
            _ => false,
        };
        if !failed
            || self.options.max_failures.is_some()
            || self.checks_queued >= self.options.rerun_alone
            || result.duration > MAX_ALONE_SECONDS
        {
            return;
        }
        let earlier = if self.after_predecessor {
            Vec::new()
        } else {
            self.earlier_in_module(test)
        };
        // A test its worker ran first, right where its module starts, ran alone already.
        if earlier.is_empty() && !self.after_others {
            return;
        }
        self.checks_queued += 1;
        self.checks.push_back(Check {
            test,
            result: self.outcome.results.len(),
            earlier,
        });
    }

    /// The planned tests before `test` in its module, nearest last, as many
    /// as the limits allow (the nearest ones).
    fn earlier_in_module(&self, test: usize) -> Vec<usize> {
        let Some(range) = self.planned.get(self.table[test].module) else {
            return Vec::new();
        };
        if !range.contains(&test) {
            return Vec::new(); // found at import: not in pytest's order here
        }
        let mut earlier = Vec::new();
        let mut seconds = 0.0;
        for index in (range.start..test).rev() {
            seconds += self.table[index].estimate;
            if earlier.len() == MAX_EARLIER_TESTS || seconds > MAX_EARLIER_SECONDS {
                break;
            }
            earlier.push(index);
        }
        earlier.reverse();
        earlier
    }

    /// Runs the next check on the idle worker of `slot`: a worker that has run
    /// anything is replaced by a fresh one first. True when a check was sent
    /// (or a fresh worker started for one).
    pub(super) fn start_check(&mut self, slot: usize) -> bool {
        if !self.checking || self.checks.is_empty() || self.outcome.stopped.is_some() {
            return false;
        }
        let Some(live) = self.slots[slot].as_ref() else {
            return false;
        };
        if !live.inflight.is_empty() || live.retiring {
            return false;
        }
        if live.tests_sent > 0 {
            self.retire(slot);
            self.start_worker(slot, None);
            return true;
        }
        let Some(check) = self.checks.pop_front() else {
            return false;
        };
        let entry = &self.table[check.test];
        let id = self.next_batch;
        self.next_batch += 1;
        let mut tests = check.earlier.clone();
        tests.push(check.test);
        let message = ToWorker::Run(RunBatch {
            batch: id,
            module: self.modules[entry.module].module.clone(),
            tests: tests
                .iter()
                .map(|&t| self.table[t].name.to_string())
                .collect(),
            run_unlisted: false,
            known: Vec::new(),
            collect_only: false,
        });
        let module = entry.module;
        let estimate = tests.iter().map(|&t| self.table[t].estimate).sum();
        let Some(live) = self.slots[slot].as_mut() else {
            return false;
        };
        if live.process.send(&message).is_err() {
            return false;
        }
        live.last_activity = Instant::now();
        live.tests_sent += 1;
        live.inflight.push_back(InFlight {
            estimate,
            batch: id,
            module,
            order: (0..tests.len()).collect(),
            tests,
            next: 0,
            imported: false,
            known: 0,
            check: Some(check.result),
        });
        true
    }

    /// Once every test has been handed out and a failure waits for its rerun:
    /// the fork server imports every module of the run (if `--import-all`
    /// did not have it do so), so that each rerun starts as pytest's run does.
    /// Workers started from then on, reruns or not, start that way.
    pub(super) fn begin_checks(&mut self, interrupted: &dyn Fn() -> bool) {
        if self.checking || self.checks.is_empty() || !self.scheduler.is_empty() {
            return;
        }
        self.checking = true;
        if !self.preloaded {
            self.prepare_server(interrupted);
        }
    }

    /// The result of a rerun, after `after` earlier tests: noted on the run's
    /// result of the test.
    pub(super) fn on_check_result(&mut self, result: usize, report: &TestReport, after: usize) {
        let outcome = if report.subtests.is_empty() {
            report.outcome
        } else {
            Outcome::Failed
        };
        if let Some(original) = self.outcome.results.get_mut(result) {
            original.alone = Some(outcome);
            original.rerun_after = u32::try_from(after).unwrap_or(u32::MAX);
        }
    }
}
