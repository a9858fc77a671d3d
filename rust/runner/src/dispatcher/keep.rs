//! A run that keeps its workers for the next (`--watch`, see `crate::kept`):
//! adopting the parked workers at the start, parking the live ones at the end.

use super::pool::{ForkServerState, Live};
use super::Dispatcher;
use crate::kept::KeptWorker;
use crate::process::ReapMode;
use crossbeam_channel::RecvTimeoutError;
use dbtest_protocol::{Modules, ToWorker};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long workers may take to close their scopes and say what they imported.
const RESET_WITHIN: Duration = Duration::from_secs(30);

impl Dispatcher<'_> {
    /// How many of this run's slots a parked worker will fill.
    pub(super) fn adoptable(&self) -> usize {
        let Some(kept) = self.kept.as_deref() else {
            return 0;
        };
        (0..self.slots.len())
            .filter(|&slot| kept.parked.get(slot).is_some_and(Option::is_some))
            .count()
    }

    /// Puts the worker parked for `slot` there, if there is one, and gives it
    /// work; whether there was.
    pub(super) fn adopt(&mut self, slot: usize) -> bool {
        let Some(worker) = self.kept.as_deref_mut().and_then(|kept| kept.take(slot)) else {
            return false;
        };
        if worker.process.reader_ended() {
            // It died while parked: a new worker takes the slot.
            let (events, _ignored) = crossbeam_channel::unbounded();
            if let Some(handle) = worker.process.reap(ReapMode::Crash, events) {
                let _ = handle.join();
            }
            return false;
        }
        // It greeted its first run; its threads report on this run's channel.
        self.any_greeted = true;
        self.slots[slot] = Some(Live {
            process: worker.process,
            greeted: true,
            inflight: VecDeque::new(),
            last_activity: Instant::now(),
            tests_sent: worker.tests_sent,
            results: 0,
            retiring: false,
        });
        self.refill(slot);
        true
    }

    /// A worker's answer to `reset`.
    pub(super) fn on_modules(&mut self, process: u64, modules: Modules) {
        let mut files: Vec<PathBuf> = modules.files.into_iter().map(PathBuf::from).collect();
        files.sort_unstable();
        self.reset_answers.insert(process, files);
    }

    /// Whether this run's workers can be kept: it ended normally, and the
    /// server that forked them (they die with it) is still in service.
    pub(super) fn keeps_workers(&self) -> bool {
        self.kept.is_some()
            && !self.outcome.interrupted
            && self.outcome.fatal.is_none()
            && !matches!(self.fork_server, ForkServerState::Degraded { .. })
    }

    /// At the end of a run: asks every live worker to close its scopes and say
    /// what it imported, and parks those that answer (with the fork server);
    /// the others are ended as at the end of any run.
    pub(super) fn park_workers(&mut self) {
        for live in self.slots.iter().flatten() {
            let _ = live.process.send(&ToWorker::Reset);
        }
        let deadline = Instant::now() + RESET_WITHIN;
        loop {
            let waiting = self
                .slots
                .iter()
                .flatten()
                .any(|live| !self.reset_answers.contains_key(&live.process.id));
            if !waiting || Instant::now() >= deadline {
                break;
            }
            // Teardown reports (`fixture`) arrive before the answer; a worker
            // that dies meanwhile leaves its slot.
            match self.events_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(event) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        for slot in 0..self.slots.len() {
            let Some(live) = self.slots[slot].take() else {
                continue;
            };
            match self.reset_answers.remove(&live.process.id) {
                Some(files) => {
                    if let Some(kept) = self.kept.as_deref_mut() {
                        kept.park(
                            slot,
                            KeptWorker {
                                process: live.process,
                                files,
                                tests_sent: live.tests_sent,
                            },
                        );
                    }
                }
                None => {
                    self.pending
                        .insert(live.process.id, super::PendingReap::quiet(slot as u32 + 1));
                    if let Some(handle) = live.process.reap(ReapMode::Kill, self.events_tx.clone())
                    {
                        self.reapers.push(handle);
                    }
                }
            }
        }
    }

    /// Hands the fork server, the channel's state and the run's facts back to
    /// the kept workers (or, if this run's workers could not be kept, ends
    /// the parked ones too: a new server would not have forked them).
    pub(super) fn return_to_kept(&mut self, parked: bool) {
        let server = std::mem::replace(&mut self.fork_server, ForkServerState::Unused);
        let next_process = self.next_process;
        let python = self.outcome.python.clone();
        let Some(kept) = self.kept.as_deref_mut() else {
            return;
        };
        kept.next_process = next_process;
        kept.python = kept.python.take().or(python);
        match server {
            ForkServerState::Running(server) if parked => kept.fork_server = Some(server),
            // The workers forked by a server that is going go with it.
            ForkServerState::Running(_) | ForkServerState::Degraded { .. } => kept.clear(),
            ForkServerState::Unused | ForkServerState::NotStarted => {}
        }
        if !parked {
            kept.clear();
        }
    }
}
