//! Workers kept from one run to the next (`dbtest --watch`): importing a
//! project's modules is most of a small run's time, and a module that did not
//! change need not be imported again.
//!
//! At the end of a run that keeps its workers ([`run_keeping`](crate::run_keeping)),
//! each live worker is sent `reset`: it tears down its open scopes (session
//! fixtures included, as at the end of any run) and answers `modules`, the
//! source files of every module it has imported that lie under the rootdir
//! (conftests included). Workers that answer are parked here by slot, with the
//! fork server that forked them (its workers die with it, so it is kept too);
//! a worker that does not answer in time is ended. Before the next run, the
//! caller ends the parked workers that imported a file the changes may have
//! reached ([`KeptWorkers::retire_stale`]); the next run adopts the rest, slot
//! by slot, instead of starting workers, and starts new ones for the other
//! slots. A worker is configured once, when it starts: the caller keeps what
//! its `config` names (the run directory, the base temporary directory, the
//! settings) the same for every run.

use crate::forkserver::ForkServer;
use crate::process::{Event, ReapMode, WorkerProcess};
use crossbeam_channel::{Receiver, Sender};
use std::path::{Path, PathBuf};

/// A worker parked between runs.
pub(crate) struct KeptWorker {
    pub(crate) process: WorkerProcess,
    /// What it imported from the project (sorted), as it reported it.
    pub(crate) files: Vec<PathBuf>,
    /// Tests it has been sent (for `--max-tests-per-worker`, which counts
    /// across runs).
    pub(crate) tests_sent: usize,
}

/// The workers (and the fork server) kept between runs.
pub struct KeptWorkers {
    pub(crate) fork_server: Option<ForkServer>,
    /// By slot (0-based).
    pub(crate) parked: Vec<Option<KeptWorker>>,
    /// The channel every kept worker's threads report on: a worker outlives
    /// the run that started it, so its events must reach the next run.
    pub(crate) events: (Sender<Event>, Receiver<Event>),
    /// Worker process ids go on from run to run (events name workers by them).
    pub(crate) next_process: u64,
    /// The workers' Python version, from the first one's `hello`.
    pub(crate) python: Option<String>,
}

/// What [`KeptWorkers::retire_stale`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Parked workers kept for the next run.
    pub kept: usize,
    /// Parked workers ended: they had imported something that changed.
    pub ended: usize,
}

impl KeptWorkers {
    /// `fork_server`: one the `dbtest` command already started, if any.
    pub fn new(fork_server: Option<ForkServer>) -> KeptWorkers {
        KeptWorkers {
            fork_server,
            parked: Vec::new(),
            events: crossbeam_channel::unbounded(),
            next_process: 1,
            python: None,
        }
    }

    /// Ends every parked worker that imported a file for which `changed`
    /// holds (a changed module, or one importing it, directly or not). Those
    /// that imported nothing the changes reach stay for the next run.
    pub fn retire_stale(&mut self, changed: &dyn Fn(&Path) -> bool) -> Refreshed {
        let mut refreshed = Refreshed::default();
        let mut ended = Vec::new();
        for place in &mut self.parked {
            let stale = place
                .as_ref()
                .is_some_and(|worker| worker.files.iter().any(|file| changed(file)));
            if stale {
                ended.extend(place.take());
                refreshed.ended += 1;
            } else if place.is_some() {
                refreshed.kept += 1;
            }
        }
        end_workers(ended);
        refreshed
    }

    /// Ends every parked worker and the fork server.
    pub fn clear(&mut self) {
        end_workers(self.parked.drain(..).flatten().collect());
        self.fork_server = None;
    }

    /// How many workers are parked.
    pub fn len(&self) -> usize {
        self.parked.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn take(&mut self, slot: usize) -> Option<KeptWorker> {
        self.parked.get_mut(slot).and_then(Option::take)
    }

    pub(crate) fn park(&mut self, slot: usize, worker: KeptWorker) {
        if self.parked.len() <= slot {
            self.parked.resize_with(slot + 1, || None);
        }
        if let Some(previous) = self.parked[slot].replace(worker) {
            end_workers(vec![previous]);
        }
    }
}

impl Drop for KeptWorkers {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Ends parked workers (they have no open scopes left: `shutdown` makes them
/// exit at once) and waits until they are gone.
fn end_workers(workers: Vec<KeptWorker>) {
    if workers.is_empty() {
        return;
    }
    // Their reports of ending are nobody's business: a channel of their own.
    let (events, _ignored) = crossbeam_channel::unbounded();
    let reapers: Vec<_> = workers
        .into_iter()
        .filter_map(|worker| {
            let _ = worker.process.send(&dbtest_protocol::ToWorker::Shutdown);
            worker.process.reap(ReapMode::Shutdown, events.clone())
        })
        .collect();
    for reaper in reapers {
        let _ = reaper.join();
    }
}
