//! Workers that time out, crash or break the protocol: which of their tests
//! fail, which go back to the queue, and what is recorded once the process is
//! reaped.

use super::Dispatcher;
use crate::process::{ReapMode, Reaped};
use crate::status::describe_exit;
use dbtest_model::{ErrorKind, Phase};

/// What to record once a reaped process is gone.
pub(super) struct PendingReap {
    pub(super) slot: u32,
    pub(super) tests: Vec<usize>,
    pub(super) kind: ErrorKind,
    pub(super) phase: Phase,
    pub(super) message: String,
    pub(super) elapsed: f64,
    pub(super) startup_failure: bool,
}

impl PendingReap {
    /// A worker ended on purpose (shutdown, recycling): nothing to record.
    pub(super) fn quiet(slot: u32) -> PendingReap {
        PendingReap {
            slot,
            tests: Vec::new(),
            kind: ErrorKind::Crash,
            phase: Phase::Teardown,
            message: String::new(),
            elapsed: 0.0,
            startup_failure: false,
        }
    }
}

impl Dispatcher<'_> {
    pub(super) fn check_timeouts(&mut self) {
        for slot in 0..self.slots.len() {
            let Some(live) = self.slots[slot].as_ref() else {
                continue;
            };
            let Some((test, limit)) = self.current_test(live) else {
                continue;
            };
            let elapsed = live.last_activity.elapsed().as_secs_f64();
            if elapsed < limit {
                continue;
            }
            let Some(mut live) = self.slots[slot].take() else {
                continue;
            };
            let Some(head) = live.inflight.pop_front() else {
                continue;
            };
            let limit_text = format_seconds(limit);
            // A hanging import would hang every worker that retried it, so the
            // whole batch fails with it.
            // A rerun's tests have their results already: nothing to report or requeue.
            let (culprits, mut rest, message) = if head.check.is_some() {
                (Vec::new(), Vec::new(), String::new())
            } else if head.imported {
                (
                    vec![test],
                    head.after_current().collect(),
                    format!("timed out after {limit_text} s"),
                )
            } else {
                (
                    head.unfinished().collect(),
                    Vec::new(),
                    format!("timed out after {limit_text} s while importing the module"),
                )
            };
            for flight in live.inflight.drain(..) {
                rest.extend(flight.tests);
            }
            self.scheduler.requeue(slot, &rest, &self.table);
            self.pending.insert(
                live.process.id,
                PendingReap {
                    slot: slot as u32 + 1,
                    tests: culprits,
                    kind: ErrorKind::Timeout,
                    phase: Phase::Call,
                    message,
                    elapsed,
                    startup_failure: false,
                },
            );
            if let Some(handle) = live.process.reap(ReapMode::Timeout, self.events_tx.clone()) {
                self.reapers.push(handle);
            }
            self.replace_worker(slot);
        }
    }

    /// The run was interrupted: every test still running is named, with how
    /// long it ran and where it was (its worker's thread dump), as an error of
    /// its own, rather than counted among the tests that never ran.
    pub(super) fn interrupt_running(&mut self) {
        for slot in 0..self.slots.len() {
            let Some(live) = self.slots[slot].as_ref() else {
                continue;
            };
            let Some(head) = live.inflight.front() else {
                continue;
            };
            let Some(test) = head.current() else {
                continue;
            };
            let importing = !head.imported;
            let Some(live) = self.slots[slot].take() else {
                continue;
            };
            let elapsed = live.last_activity.elapsed().as_secs_f64();
            let during = if importing {
                " while importing the module"
            } else {
                ""
            };
            self.pending.insert(
                live.process.id,
                PendingReap {
                    slot: slot as u32 + 1,
                    tests: vec![test],
                    kind: ErrorKind::Interrupted,
                    phase: if importing {
                        Phase::Import
                    } else {
                        Phase::Call
                    },
                    message: format!("interrupted after {elapsed:.2} s{during}"),
                    elapsed,
                    startup_failure: false,
                },
            );
            // As on a timeout: a thread dump first, then the process group goes.
            if let Some(handle) = live.process.reap(ReapMode::Timeout, self.events_tx.clone()) {
                self.reapers.push(handle);
            }
        }
    }

    pub(super) fn on_worker_lost(&mut self, slot: usize, protocol_error: Option<String>) {
        let Some(mut live) = self.slots[slot].take() else {
            return;
        };
        let elapsed = live.last_activity.elapsed().as_secs_f64();
        let mut culprits = Vec::new();
        let mut rest = Vec::new();
        let mut importing = false;
        // A rerun's tests have their results already: nothing to report or requeue.
        if let Some(head) = live.inflight.pop_front().filter(|h| h.check.is_none()) {
            if head.imported {
                culprits.extend(head.current());
                rest.extend(head.after_current());
            } else {
                // Dying while importing: every test of the batch shares the fate.
                importing = true;
                culprits.extend(head.unfinished());
            }
        }
        for flight in live.inflight.drain(..) {
            rest.extend(flight.tests);
        }
        self.scheduler.requeue(slot, &rest, &self.table);
        let (kind, mode, message) = match protocol_error {
            Some(error) => (
                ErrorKind::Protocol,
                ReapMode::Kill,
                format!("worker broke the protocol: {error}"),
            ),
            None if importing => (
                ErrorKind::Crash,
                ReapMode::Crash,
                "worker crashed while importing the module".into(),
            ),
            None => (ErrorKind::Crash, ReapMode::Crash, "worker crashed".into()),
        };
        self.pending.insert(
            live.process.id,
            PendingReap {
                slot: slot as u32 + 1,
                tests: culprits,
                kind,
                phase: if importing {
                    Phase::Import
                } else {
                    Phase::Call
                },
                message,
                elapsed,
                startup_failure: !live.greeted,
            },
        );
        if let Some(handle) = live.process.reap(mode, self.events_tx.clone()) {
            self.reapers.push(handle);
        }
        if !live.greeted && !self.any_greeted {
            // Nothing has ever started: replacing it would fail the same way.
            return;
        }
        self.replace_worker(slot);
    }

    pub(super) fn protocol_violation(&mut self, slot: usize, what: String) {
        self.on_worker_lost(slot, Some(what));
    }

    pub(super) fn on_reaped(&mut self, reaped: Reaped) {
        let Some(pending) = self.pending.remove(&reaped.process) else {
            return;
        };
        if pending.startup_failure && !self.any_greeted {
            let tail = reaped.tail.trim();
            let detail = if tail.is_empty() {
                describe_exit(reaped.status)
            } else {
                tail.lines().last().unwrap_or(tail).to_string()
            };
            self.outcome.fatal = Some(format!(
                "worker failed to start ({}): {detail}",
                self.options.spawn.python.display()
            ));
            for test in &pending.tests {
                self.done[*test] = false;
            }
            return;
        }
        let exit = describe_exit(reaped.status);
        let quiet_exit = matches!(pending.kind, ErrorKind::Timeout | ErrorKind::Interrupted);
        let message = match pending.kind {
            _ if quiet_exit => pending.message.clone(),
            _ => format!("{} ({exit})", pending.message),
        };
        let mut traceback = String::new();
        let dump = without_worker_frames(&reaped.left.dump);
        if !dump.trim().is_empty() {
            traceback.push_str(dump.trim_end());
            traceback.push('\n');
        }
        if !quiet_exit && !reaped.tail.trim().is_empty() {
            traceback.push_str("--- worker output ---\n");
            traceback.push_str(reaped.tail.trim_end());
            traceback.push('\n');
        }
        // What the test printed before it died or was ended: with the first
        // culprit (the others of a batch whose import failed printed nothing).
        let (mut stdout, mut stderr) = (reaped.left.stdout, reaped.left.stderr);
        for &test in &pending.tests {
            let mut result = self.error_result(
                test,
                pending.slot,
                pending.kind,
                pending.phase,
                message.clone(),
                (!traceback.is_empty()).then(|| traceback.clone()),
                pending.elapsed,
            );
            result.stdout = stdout.take();
            result.stderr = stderr.take();
            self.record(test, result);
        }
    }
}

/// A faulthandler dump without the frames of the worker's own machinery
/// (they sit under every test and say nothing about it).
fn without_worker_frames(dump: &str) -> String {
    dump.lines()
        .filter(|line| {
            let line = line.trim_start();
            !(line.starts_with("File ")
                && (line.contains("/dbtest/worker/") || line.contains("<frozen runpy>")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn format_seconds(seconds: f64) -> String {
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}")
    } else {
        format!("{seconds}")
    }
}
