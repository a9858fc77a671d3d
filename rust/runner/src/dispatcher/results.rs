//! Result accounting: turning worker reports into results, retries
//! (`--retries`), failures and `--maxfail`, and publishing to the observer.

use super::Dispatcher;
use dbtest_model::{ErrorKind, Outcome, Phase, ResultDetail, TestResult};
use dbtest_protocol::{FixtureReport, TestReport};

impl Dispatcher<'_> {
    pub(super) fn on_result(&mut self, slot: usize, report: TestReport) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let Some(flight) = live.inflight.iter_mut().find(|f| f.batch == report.batch) else {
            return self
                .protocol_violation(slot, format!("result for unknown batch {}", report.batch));
        };
        let position = report.position as usize;
        let Some(&test) = flight.tests.get(position) else {
            return self
                .protocol_violation(slot, format!("result for unknown position {position}"));
        };
        flight.imported = true;
        if let Some(index) = flight.check {
            flight.next += 1;
            // The tests before it in its module ran first; only its own result counts.
            let last = flight.tests.len() - 1;
            if position == last {
                self.on_check_result(index, &report, last);
            }
            return;
        }
        // A test its worker ran first ran alone already: no rerun to learn from.
        self.after_others = live.results > 0;
        let process = u32::try_from(live.process.id).unwrap_or(u32::MAX);
        self.after_predecessor = test
            .checked_sub(1)
            .is_none_or(|before| self.ran_in[before] == process);
        self.ran_in[test] = process;
        live.results += 1;
        if flight.order.get(flight.next) == Some(&position) {
            flight.next += 1;
        } else if let Some(index) = flight.order.iter().position(|&p| p == position) {
            flight.next = flight.next.max(index + 1);
        }
        let mut result = TestResult::new(self.id_of(test), report.outcome, report.phase);
        result.error_kind = report.error_kind;
        result.duration = report.duration;
        result.worker = slot as u32 + 1;
        result.subtests_passed = report.subtests_passed;
        // Allocated only when the worker reported anything but the verdict.
        result.set_detail(ResultDetail {
            message: report.message,
            traceback: report.traceback,
            stdout: report.stdout,
            stderr: report.stderr,
            parent: None,
            warnings: report.warnings,
            rerun_after: 0,
        });
        // Each failed subTest block is a result of its own (as pytest 9 counts them).
        for failure in report.subtests {
            let mut sub = TestResult::new(
                format!("{} {}", result.id, failure.description),
                failure.outcome,
                Phase::Call,
            );
            sub.error_kind = (failure.outcome == Outcome::Error).then_some(ErrorKind::Exception);
            sub.worker = result.worker;
            sub.message = failure.message;
            sub.traceback = failure.traceback;
            sub.parent = Some(result.id.clone());
            self.count_and_publish(sub);
        }
        if !self.recorded {
            self.scheduler.observe(result.duration);
        }
        self.record(test, result);
        self.refill(slot);
    }

    pub(super) fn on_fixture(&mut self, worker: u32, report: FixtureReport) {
        let rel = self
            .modules
            .iter()
            .find(|m| m.module.name == report.module)
            .map_or(report.module.as_str(), |m| m.rel.as_str());
        let mut result = TestResult::new(
            format!("{rel}::{}", report.name),
            Outcome::Error,
            report.phase,
        );
        result.error_kind = Some(ErrorKind::Exception);
        result.duration = report.duration;
        result.worker = worker;
        result.set_detail(ResultDetail {
            message: report.message,
            traceback: report.traceback,
            stdout: report.stdout,
            stderr: report.stderr,
            ..ResultDetail::default()
        });
        self.count_and_publish(result);
    }

    /// Records a test's result, or requeues it for another attempt (`--retries`).
    pub(super) fn record(&mut self, test: usize, mut result: TestResult) {
        if self.done[test] {
            return;
        }
        self.stamp(&mut result);
        if result.error_kind == Some(ErrorKind::Missing) {
            // Listed statically, not defined once imported (a class deleted when
            // an optional dependency is missing): not a test, as under pytest.
            self.done[test] = true;
            self.observer.test_withdrawn(&result.id);
            self.outcome.withdrawn.push(result.id);
            return;
        }
        if result.phase == Phase::Import && result.outcome == Outcome::Skipped {
            // A module that skips itself as it is imported (`pytest.importorskip`,
            // `unittest.SkipTest`) is one skipped result named after its file, as
            // pytest and unittest count it, however many tests it holds and however
            // many workers imported it.
            self.done[test] = true;
            let module = self.table[test].module;
            if self.skipped_modules.insert(module) {
                result.id = self.modules[module].rel.clone();
                result.attempts = 1;
                self.count_and_publish(result);
            }
            return;
        }
        self.attempts[test] += 1;
        result.attempts = self.attempts[test];
        let failing = matches!(result.outcome, Outcome::Failed | Outcome::Error);
        if failing && result.attempts <= self.options.retries && self.outcome.stopped.is_none() {
            self.observer.test_retried(&result);
            // Retried by the same worker slot, after what it already has.
            let lane = result.worker.saturating_sub(1) as usize;
            self.scheduler.requeue(lane, &[test], &self.table);
            return;
        }
        result.flaky = result.outcome == Outcome::Passed && result.attempts > 1;
        self.done[test] = true;
        self.maybe_check_alone(test, &result);
        self.count_and_publish(result);
    }

    /// When a result that just arrived started (results arrive as their
    /// tests end: it started its duration ago).
    fn stamp(&self, result: &mut TestResult) {
        if result.worker > 0 && result.start().is_none() {
            let now = self.options.epoch.elapsed().as_secs_f64();
            result.set_start(Some((now - result.duration).max(0.0)));
        }
    }

    pub(super) fn count_and_publish(&mut self, mut result: TestResult) {
        self.stamp(&mut result);
        if result.outcome.fails_run() {
            self.failures += 1;
            if let Some(max) = self.options.max_failures {
                if self.failures >= max && self.outcome.stopped.is_none() {
                    let plural = if max == 1 { "failure" } else { "failures" };
                    self.stop_dispatching(format!("stopped after {max} {plural}"));
                }
            }
        }
        self.observer.test_finished(&result);
        self.outcome.results.push(result);
    }

    pub(super) fn stop_dispatching(&mut self, why: String) {
        if self.outcome.stopped.is_none() {
            self.outcome.stopped = Some(why);
        }
        self.checks.clear();
        self.scheduler.drain();
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn error_result(
        &self,
        test: usize,
        worker: u32,
        kind: ErrorKind,
        phase: Phase,
        message: String,
        traceback: Option<String>,
        duration: f64,
    ) -> TestResult {
        let mut result = TestResult::new(self.id_of(test), Outcome::Error, phase);
        result.error_kind = Some(kind);
        result.duration = duration;
        result.worker = worker;
        result.message = Some(message);
        result.traceback = traceback;
        result
    }

    /// `<module rel>::<name>` (see [`dbtest_model::node_id`]): built when needed rather than stored per test.
    pub(super) fn id_of(&self, test: usize) -> String {
        let entry = &self.table[test];
        dbtest_model::node_id(&self.modules[entry.module].rel, &entry.name)
    }
}
