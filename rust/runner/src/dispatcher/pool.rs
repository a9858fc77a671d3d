//! The worker pool's lifecycle: starting workers (forked by the fork server or
//! started as interpreters), keeping them busy, recycling, retiring and
//! replacing them, and ending them all.

use super::{Dispatcher, InFlight, PendingReap};
use crate::files::WorkerFiles;
use crate::forkserver::{ForkServer, PrepareError};
use crate::process::{ReapMode, WorkerProcess};
use crate::spawn::WorkerPipes;
use dbtest_model::Running;
use dbtest_protocol::{encode_frame, ModuleRef, ToWorker, WorkerConfig, PROTOCOL_VERSION};
use std::collections::VecDeque;
use std::time::Instant;

pub(super) struct Live {
    pub(super) process: WorkerProcess,
    pub(super) greeted: bool,
    pub(super) inflight: VecDeque<InFlight>,
    pub(super) last_activity: Instant,
    /// Tests sent to it so far (for `max_tests_per_worker`).
    pub(super) tests_sent: usize,
    /// Results it has reported so far.
    pub(super) results: usize,
    /// It gets no more work and is replaced once its batches are done.
    pub(super) retiring: bool,
}

/// Workers come from a fork server when more than one is started; if the
/// server cannot be started or stops answering, interpreters are started
/// directly for the rest of the run.
pub(super) enum ForkServerState {
    /// Workers start as interpreters.
    Unused,
    /// Started when the first worker is needed.
    NotStarted,
    Running(ForkServer),
    /// It failed a request (no fork, a late or garbled answer): it gets no
    /// more, but lives on until the run ends, because the workers it forked
    /// die with it (PR_SET_PDEATHSIG) and may be running tests.
    Degraded {
        /// Held only: dropping it would end the server.
        _kept: ForkServer,
    },
}

impl ForkServerState {
    /// Stops sending requests to a server that failed one, keeping it alive.
    fn degrade(&mut self) {
        if let ForkServerState::Running(server) = std::mem::replace(self, ForkServerState::Unused) {
            *self = ForkServerState::Degraded { _kept: server };
        }
    }
}

impl Dispatcher<'_> {
    pub(super) fn fork_server(&mut self) -> Option<&mut ForkServer> {
        if let ForkServerState::NotStarted = self.fork_server {
            self.fork_server = match ForkServer::start(&self.options.spawn) {
                Ok(server) => ForkServerState::Running(server),
                Err(_) => ForkServerState::Unused,
            };
        }
        match &mut self.fork_server {
            ForkServerState::Running(server) => Some(server),
            _ => None,
        }
    }

    /// Asks the fork server for every slot's worker at once: it forks them back
    /// to back while the coordinator sets up the ones already forked, instead of
    /// waiting for a round trip per worker. In slot order. With `--import-all`
    /// the server first imports every module of the run (see `prepare_server`).
    pub(super) fn request_workers(
        &mut self,
        interrupted: &dyn Fn() -> bool,
    ) -> VecDeque<WorkerPipes> {
        // Slots a kept worker fills need none (`--watch`, see `keep`).
        let count = self.slots.len() - self.adoptable();
        let mut requested = VecDeque::with_capacity(count);
        if count == 0 {
            return requested;
        }
        let preload = self.options.preload.clone();
        if let Some(server) = self.fork_server() {
            if !preload.is_empty() && server.preload(&preload).is_err() {
                return requested;
            }
        }
        if self.options.import_all {
            self.prepare_server(interrupted);
            if self.outcome.interrupted {
                return requested;
            }
        }
        if let Some(server) = self.fork_server() {
            for _ in 0..count {
                let Ok(pipes) = WorkerPipes::new() else { break };
                if server.request(pipes.worker_ends()).is_err() {
                    break;
                }
                requested.push_back(pipes);
            }
        }
        requested
    }

    /// `--import-all`: the fork server imports every module of the run, as a
    /// worker would, before it forks one; each worker it forks then starts with
    /// them all, paid for once. If it cannot, each worker imports them itself.
    pub(super) fn prepare_server(&mut self, interrupted: &dyn Fn() -> bool) {
        let config = ToWorker::Config(Box::new(self.worker_config(0, String::new(), true)));
        let Ok(frame) = encode_frame(&config) else {
            return;
        };
        let Some(server) = self.fork_server() else {
            return;
        };
        match server.prepare(&frame, interrupted) {
            Ok((imported, failed)) => {
                self.preloaded = true;
                self.trace.mark(&format!(
                    "fork server imported {imported} modules ({failed} failed)"
                ));
            }
            Err(PrepareError::Interrupted) => self.outcome.interrupted = true,
            Err(PrepareError::Io(err)) => {
                self.fork_server.degrade();
                self.observer.warning(&format!(
                    "the fork server could not import the test modules ({err}); each worker imports them"
                ));
            }
        }
    }

    /// The `config` message of the worker in 1-based `slot` (0: the fork
    /// server's), with the run's modules to import first when `import` is set.
    fn worker_config(&self, slot: u32, traceback_file: String, import: bool) -> WorkerConfig {
        let modules = || self.modules.iter().map(|m| m.module.clone()).collect();
        let preload: Vec<ModuleRef> = if import { modules() } else { Vec::new() };
        // Only a worker that imports lazily needs them (slot 0 is the fork
        // server's config; its workers get configs of their own).
        let lazy = !(import || self.options.import_all || self.checking || self.preloaded);
        let on_miss: Vec<ModuleRef> = if !lazy || slot == 0 {
            Vec::new()
        } else {
            modules()
        };
        WorkerConfig {
            protocol: PROTOCOL_VERSION,
            worker: slot,
            rootdir: self.options.rootdir.to_string_lossy().into_owned(),
            capture: self.options.capture,
            output_limit: self.options.output_limit,
            traceback_file,
            cache_dir: self
                .options
                .cache_dir
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned()),
            pytest: self.options.pytest.clone(),
            preload,
            on_miss,
            coverage: self.options.coverage.clone(),
        }
    }

    /// `requested`: pipes the fork server was already asked to fork a worker
    /// with (see `request_workers`).
    pub(super) fn start_worker(&mut self, slot: usize, requested: Option<WorkerPipes>) {
        let id = self.next_process;
        self.next_process += 1;
        let files = WorkerFiles::new(&self.options.run_dir, id, self.options.output_limit);
        let traceback_file = files.traceback.to_string_lossy().into_owned();
        let (options, events) = (self.options, self.events_tx.clone());
        let spec = &options.spawn;
        let spawn = |server: Option<&mut ForkServer>, requested: Option<WorkerPipes>| {
            WorkerProcess::spawn(
                spec,
                server,
                requested,
                id,
                slot as u32 + 1,
                files.clone(),
                events.clone(),
            )
        };
        let forked = self
            .fork_server()
            .map(|server| spawn(Some(server), requested));
        let forked_ok = matches!(forked, Some(Ok(_)));
        let spawned = match forked {
            Some(Ok(process)) => Ok(process),
            Some(Err(err)) => {
                // Its answers can no longer be matched to requests: interpreters
                // from now on, while the workers it forked carry on.
                self.fork_server.degrade();
                self.observer.warning(&format!(
                    "the fork server failed ({err}); new workers start as interpreters"
                ));
                spawn(None, None)
            }
            None => spawn(None, None),
        };
        let process = match spawned {
            Ok(process) => process,
            Err(err) => {
                self.outcome.fatal = Some(format!(
                    "cannot start a worker with {}: {err}",
                    self.options.spawn.python.display()
                ));
                return;
            }
        };
        // A worker forked from a server that imported the run's modules has them.
        let import = (self.options.import_all || self.checking) && !(forked_ok && self.preloaded);
        let config = ToWorker::Config(Box::new(self.worker_config(
            slot as u32 + 1,
            traceback_file,
            import,
        )));
        if let Err(err) = process.send(&config) {
            self.outcome.fatal = Some(format!("cannot configure a worker: {err}"));
        }
        self.slots[slot] = Some(Live {
            process,
            greeted: false,
            inflight: VecDeque::new(),
            last_activity: Instant::now(),
            tests_sent: 0,
            results: 0,
            retiring: false,
        });
        self.refill(slot);
    }

    pub(super) fn slot_of(&self, process: u64) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|l| l.process.id == process))
    }

    /// Work can reappear after a worker went idle (requeued after a crash, a
    /// retry): give it to idle workers, and restart slots left empty.
    pub(super) fn keep_workers_busy(&mut self) {
        for slot in 0..self.slots.len() {
            if !self.work_left() || self.outcome.stopped.is_some() {
                return;
            }
            match &self.slots[slot] {
                Some(live) if live.inflight.is_empty() && !live.retiring => self.refill(slot),
                Some(_) => {}
                // Retired for want of work, not lost: no restart to count.
                None if self.retired[slot] => {
                    self.retired[slot] = false;
                    self.start_worker(slot, None);
                }
                None if self.any_greeted => self.replace_worker(slot),
                None => {}
            }
        }
    }

    /// Ends the workers that have nothing left to do once all work is handed
    /// out, rather than at the end of the run: their module teardowns and exits
    /// overlap the tests still running elsewhere. Not while a batch somewhere may
    /// still reveal tests only its import shows (they may need workers); work
    /// that reappears later (a retry, a crash's requeue) restarts the slot.
    pub(super) fn retire_idle_workers(&mut self) {
        // Workers kept for the next run (`--watch`) stay until the end.
        if self.work_left() || self.outcome.stopped.is_some() || self.kept.is_some() {
            return;
        }
        let imports_pending = self
            .slots
            .iter()
            .flatten()
            .any(|live| live.inflight.iter().any(|flight| !flight.imported));
        if imports_pending {
            return;
        }
        for slot in 0..self.slots.len() {
            let idle = self.slots[slot]
                .as_ref()
                .is_some_and(|live| live.inflight.is_empty() && !live.retiring);
            if idle {
                self.retire(slot);
                self.retired[slot] = true;
            }
        }
    }

    /// Replaces a worker that ran its quota of tests or grew too big, once its
    /// queued batches are done.
    pub(super) fn maybe_recycle(&mut self, slot: usize) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let too_many = self
            .options
            .max_tests_per_worker
            .is_some_and(|max| live.tests_sent >= max);
        let too_big = self.options.max_worker_rss.is_some_and(|max| {
            crate::status::resident_bytes(live.process.pid).is_some_and(|rss| rss > max)
        });
        live.retiring |= too_many || too_big;
        if !live.retiring || !live.inflight.is_empty() {
            return;
        }
        self.retire(slot);
        if self.work_left() && self.outcome.stopped.is_none() {
            self.start_worker(slot, None);
        }
    }

    /// Asks the worker in `slot` to shut down and leaves the slot empty; the
    /// worker is reaped in the background (module teardowns may still report).
    pub(super) fn retire(&mut self, slot: usize) {
        let Some(live) = self.slots[slot].take() else {
            return;
        };
        let _ = live.process.send(&ToWorker::Shutdown);
        self.pending
            .insert(live.process.id, PendingReap::quiet(slot as u32 + 1));
        if let Some(handle) = live
            .process
            .reap(ReapMode::Shutdown, self.events_tx.clone())
        {
            self.reapers.push(handle);
        }
    }

    pub(super) fn replace_worker(&mut self, slot: usize) {
        if !self.work_left() || self.outcome.stopped.is_some() {
            return;
        }
        if self.restarts >= self.options.max_worker_restarts {
            self.stop_dispatching(format!(
                "stopped after {} (--max-worker-restart)",
                dbtest_model::counted(self.restarts as u64, "worker restart", "worker restarts")
            ));
            return;
        }
        self.restarts += 1;
        self.start_worker(slot, None);
    }

    pub(super) fn end_all(&mut self, mode: ReapMode) {
        for slot in 0..self.slots.len() {
            if let Some(live) = self.slots[slot].take() {
                if mode == ReapMode::Shutdown {
                    let _ = live.process.send(&ToWorker::Shutdown);
                }
                // Wait for it in `finish`: module teardowns may still report.
                self.pending
                    .insert(live.process.id, PendingReap::quiet(slot as u32 + 1));
                if let Some(handle) = live.process.reap(mode, self.events_tx.clone()) {
                    self.reapers.push(handle);
                }
            }
        }
    }

    /// The test a worker is busy with and its time limit, if it has one.
    pub(super) fn current_test(&self, live: &Live) -> Option<(usize, f64)> {
        let test = live.inflight.front()?.current()?;
        let limit = self.table[test].timeout.or(self.options.default_timeout)?;
        Some((test, limit))
    }

    pub(super) fn running(&self) -> Vec<Running> {
        self.slots
            .iter()
            .flatten()
            .filter_map(|live| {
                let test = live.inflight.front()?.current()?;
                Some(Running {
                    slot: live.process.slot,
                    id: self.id_of(test),
                    elapsed: live.last_activity.elapsed(),
                })
            })
            .collect()
    }
}
