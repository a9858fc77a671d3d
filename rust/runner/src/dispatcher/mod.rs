//! The dispatcher: one loop on the calling thread that owns every worker and
//! every test's state. It hears from workers through a single channel of
//! [`Event`]s (one reader thread per worker feeds it), hands out batches from the
//! [`Scheduler`], enforces timeouts and replaces workers that die.
//!
//! By concern: `batches` (what each worker was sent and how far it got),
//! `pool` (starting, recycling, retiring and replacing workers), `faults`
//! (timeouts and crashes), `results` (recording, retries, `--maxfail`); this
//! file holds the run's state and the loop.

mod alone;
mod batches;
mod budget;
mod collect_only;
mod faults;
mod keep;
mod pool;
mod results;

use crate::forkserver::ForkServer;
use crate::kept::KeptWorkers;
use crate::plan::{Plan, PlannedModule};
use crate::process::{Event, ReapMode};
use crate::scheduler::{quantize, ModuleFlags, Order, Scheduler, TestEntry};
use crate::spawn::SpawnSpec;
use alone::Check;
use batches::InFlight;
pub use budget::TimeBudget;
pub use collect_only::CollectedModule;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use dbtest_model::{mean_duration, RunObserver, TestResult};
use dbtest_protocol::{FromWorker, PROTOCOL_VERSION};
use faults::PendingReap;
use pool::{ForkServerState, Live};
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Estimate for tests never timed before (only ratios between estimates matter).
const DEFAULT_ESTIMATE: f64 = 0.01;
const TICK: Duration = Duration::from_millis(100);
const INTERRUPT_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    pub jobs: usize,
    pub spawn: SpawnSpec,
    /// Directory test ids are relative to.
    pub rootdir: PathBuf,
    /// Where per-worker thread-dump files go (a private temp dir of the run).
    pub run_dir: PathBuf,
    /// dbtest's cache directory (workers keep rewritten bytecode there).
    pub cache_dir: Option<PathBuf>,
    pub capture: bool,
    /// pytest's settings the workers apply.
    pub pytest: dbtest_protocol::PytestOptions,
    /// Modules the fork server imports before forking workers (`pytest`, when
    /// the run's modules import it): workers inherit them instead of each
    /// importing them.
    pub preload: Vec<String>,
    pub output_limit: u32,
    /// Applies to tests without a timeout of their own.
    pub default_timeout: Option<f64>,
    /// Stop dispatching after this many failed/errored tests.
    pub max_failures: Option<usize>,
    /// Worker replacements allowed before the run gives up.
    pub max_worker_restarts: usize,
    /// Rerun a failing test up to this many times; passing on a rerun makes it flaky.
    pub retries: u32,
    /// Replace a worker after it has run this many tests.
    pub max_tests_per_worker: Option<usize>,
    /// Replace a worker (between batches) whose resident memory is above this many bytes.
    pub max_worker_rss: Option<u64>,
    /// With recorded durations, a module's test functions run longest first.
    pub longest_first: bool,
    /// `--shuffle`: the seed of the run's order.
    pub shuffle: Option<u64>,
    /// `--import-all`: every module of the run is imported before any test
    /// runs (by the fork server, once, when there is one).
    pub import_all: bool,
    /// Rerun up to this many failures alone in a fresh worker, to tell
    /// whether they depend on other tests (see `alone`).
    pub rerun_alone: usize,
    /// Results' start times are seconds from this instant (the run's start).
    pub epoch: Instant,
    /// `--cov`: how workers measure coverage (`None`: they do not).
    pub coverage: Option<dbtest_protocol::CoverageOptions>,
    /// `--budget`: no test is dispatched past this point; batches stay small
    /// so that little is committed beyond it.
    pub time_budget: Option<TimeBudget>,
    /// The plan's order stands even where a module's own (pytest's) differs
    /// (`--changed`: failures first, then the shortest).
    pub planned_order: bool,
    /// `dbtest list`: workers import the plan's modules and report the tests
    /// they define ([`RunOutcome::collected`]); nothing runs.
    pub collect_only: bool,
}

/// Decides whether a test found at import time (id, tags) belongs to the run
/// (selection, `--lf`, shard). The worker reports only tests the static pass
/// did not see: every static name of the module is sent to it as `known`
/// ([`PlannedModule::unplanned`](crate::PlannedModule::unplanned)).
pub type UnlistedFilter<'a> = &'a dyn Fn(&str, &[String]) -> bool;

#[derive(Debug, Default)]
pub struct RunOutcome {
    /// In completion order.
    pub results: Vec<TestResult>,
    /// Selected tests that never ran (stopped early or interrupted).
    pub not_run: usize,
    pub interrupted: bool,
    /// Why the run stopped dispatching early, if it did.
    pub stopped: Option<String>,
    /// A failure of dbtest itself (workers cannot start): exit code 3.
    pub fatal: Option<String>,
    pub workers: usize,
    /// The workers' Python version (`3.12.3`), from the first one's `hello`.
    pub python: Option<String>,
    /// Ids of listed tests the worker found not to be tests (see
    /// [`RunObserver::test_withdrawn`](dbtest_model::RunObserver::test_withdrawn)).
    pub withdrawn: Vec<String>,
    /// With a time budget: the ids of the tests it left unrun.
    pub unrun: Vec<String>,
    /// With [`RunnerOptions::collect_only`]: per module imported, what it
    /// defines. A module that failed to import has an `import` error in
    /// `results` instead.
    pub collected: Vec<CollectedModule>,
}

/// `fork_server`: one already started (by the `dbtest` command), used for every
/// worker; without it, one is started when more than one worker is needed.
pub fn run(
    plan: Plan,
    options: &RunnerOptions,
    fork_server: Option<ForkServer>,
    observer: &mut dyn RunObserver,
    select_unlisted: UnlistedFilter,
    interrupted: &dyn Fn() -> bool,
) -> RunOutcome {
    run_with(
        plan,
        options,
        fork_server,
        None,
        observer,
        select_unlisted,
        interrupted,
    )
}

/// [`run`] with the workers `kept` from earlier runs (`--watch`): each slot
/// that has one parked uses it instead of starting a worker, and at the end
/// the run's workers are parked there for the next run (see `crate::kept`).
/// `options` must name the same run directory and worker settings each time.
pub fn run_keeping(
    plan: Plan,
    options: &RunnerOptions,
    kept: &mut KeptWorkers,
    observer: &mut dyn RunObserver,
    select_unlisted: UnlistedFilter,
    interrupted: &dyn Fn() -> bool,
) -> RunOutcome {
    let fork_server = kept.fork_server.take();
    run_with(
        plan,
        options,
        fork_server,
        Some(kept),
        observer,
        select_unlisted,
        interrupted,
    )
}

fn run_with<'a>(
    mut plan: Plan,
    options: &'a RunnerOptions,
    fork_server: Option<ForkServer>,
    kept: Option<&'a mut KeptWorkers>,
    observer: &'a mut dyn RunObserver,
    select_unlisted: UnlistedFilter<'a>,
    interrupted: &dyn Fn() -> bool,
) -> RunOutcome {
    let mut table = Vec::with_capacity(plan.test_count());
    let recorded_mean = mean_duration(
        plan.modules
            .iter()
            .flat_map(|m| m.tests.iter().filter_map(|t| t.estimate)),
    );
    // Estimates are quantized: durations that changed slightly plan the same.
    let fallback = quantize(recorded_mean.unwrap_or(DEFAULT_ESTIMATE));
    let flags: Vec<ModuleFlags> = plan
        .modules
        .iter()
        .map(|m| ModuleFlags {
            run_unlisted: m.run_unlisted,
            first: m.first,
            whole: m.whole,
        })
        .collect();
    let probes = plan
        .modules
        .iter()
        .filter(|m| m.run_unlisted && m.tests.is_empty())
        .count();
    // The plan's tests move into the table: one copy of each id for the run.
    // Each module's list is taken, not drained: its emptied buffer (80 bytes
    // a test) would otherwise stay allocated for the whole run.
    let mut planned = Vec::with_capacity(plan.modules.len());
    for (m, module) in plan.modules.iter_mut().enumerate() {
        let first = table.len();
        for test in std::mem::take(&mut module.tests) {
            table.push(TestEntry {
                name: test.name,
                module: m,
                group: test.group,
                timeout: test.timeout,
                estimate: test.estimate.map_or(fallback, quantize),
            });
        }
        planned.push(first..table.len());
    }
    let work_units = table.len() + probes;
    // A module imported to find its tests may show many (made in a loop, in
    // another module): they are spread over the workers like planned ones.
    let may_find_more = plan.modules.iter().any(|m| m.run_unlisted && !m.whole);
    let workers = if may_find_more {
        options.jobs.max(1)
    } else {
        options.jobs.max(1).min(work_units.max(1))
    };
    let recorded = recorded_mean.is_some();
    let order = Order {
        longest_functions_first: options.longest_first && recorded && workers > 1,
        shuffle: options.shuffle,
    };
    let scheduler = Scheduler::new(&table, &flags, workers, recorded, order, fallback);
    // Kept workers report on a channel that outlives the run.
    let (events_tx, events_rx) = match &kept {
        Some(kept) => kept.events.clone(),
        None => crossbeam_channel::unbounded(),
    };
    let next_process = kept.as_ref().map_or(1, |k| k.next_process);
    let table_len = table.len();
    let mut dispatcher = Dispatcher {
        options,
        observer,
        select_unlisted,
        done: vec![false; table.len()],
        attempts: vec![0; table.len()],
        ran_in: vec![0; table.len()],
        table,
        modules: plan.modules,
        planned,
        scheduler,
        slots: (0..workers).map(|_| None).collect(),
        retired: vec![false; workers],
        events_tx,
        events_rx,
        next_process,
        next_batch: 1,
        outcome: RunOutcome {
            workers,
            // Reserved once: growing by doubling would briefly hold two copies.
            results: Vec::with_capacity(table_len),
            python: kept.as_ref().and_then(|k| k.python.clone()),
            ..RunOutcome::default()
        },
        pending: HashMap::new(),
        skipped_modules: HashSet::new(),
        reapers: Vec::new(),
        restarts: 0,
        failures: 0,
        any_greeted: false,
        fallback_estimate: fallback,
        recorded,
        preloaded: false,
        checks: VecDeque::new(),
        checks_queued: 0,
        after_others: false,
        after_predecessor: false,
        checking: false,
        fork_server: match fork_server {
            Some(server) if options.spawn.fork_server => ForkServerState::Running(server),
            // Even for one worker: the server is also the run's reaper (what
            // the tests start dies with the run, see `ForkServer`).
            _ if options.spawn.fork_server => ForkServerState::NotStarted,
            _ => ForkServerState::Unused,
        },
        trace: Trace::new(),
        kept,
        reset_answers: HashMap::new(),
    };
    if work_units == 0 {
        dispatcher.return_to_kept(true);
        return std::mem::take(&mut dispatcher.outcome);
    }
    dispatcher
        .observer
        .run_started(dispatcher.table.len(), workers);
    dispatcher.main_loop(interrupted);
    dispatcher.finish()
}

struct Dispatcher<'a> {
    options: &'a RunnerOptions,
    observer: &'a mut dyn RunObserver,
    select_unlisted: UnlistedFilter<'a>,
    table: Vec<TestEntry>,
    /// Per test: a final result was recorded.
    done: Vec<bool>,
    /// Per test: results received (retries make it more than one).
    attempts: Vec<u32>,
    /// Per test: the worker process that last reported it (0: none yet).
    ran_in: Vec<u32>,
    modules: Vec<PlannedModule>,
    /// Per module: where its planned tests sit in `table`.
    planned: Vec<Range<usize>>,
    scheduler: Scheduler,
    slots: Vec<Option<Live>>,
    /// Per slot: its worker was ended for want of work (see `retire_idle_workers`).
    retired: Vec<bool>,
    events_tx: Sender<Event>,
    events_rx: Receiver<Event>,
    next_process: u64,
    next_batch: u32,
    outcome: RunOutcome,
    pending: HashMap<u64, PendingReap>,
    /// Modules that raised a skip at import, reported once each.
    skipped_modules: HashSet<usize>,
    reapers: Vec<JoinHandle<()>>,
    restarts: usize,
    failures: usize,
    any_greeted: bool,
    fallback_estimate: f64,
    /// The estimates come from recorded durations.
    recorded: bool,
    /// The fork server imported the run's modules (`--import-all`).
    preloaded: bool,
    /// Failed tests waiting to be rerun, and how many were queued.
    checks: VecDeque<Check>,
    checks_queued: usize,
    /// The result being recorded came from a worker that had run other tests,
    /// and the last of them was the test before it in the table (its module's).
    after_others: bool,
    after_predecessor: bool,
    /// Failures are being rerun alone (see `alone`).
    checking: bool,
    fork_server: ForkServerState,
    trace: Trace,
    /// `--watch`: where workers are adopted from and parked (see `keep`).
    kept: Option<&'a mut KeptWorkers>,
    /// Answers to `reset`: what each worker imported from the project.
    reset_answers: HashMap<u64, Vec<PathBuf>>,
}

/// `DBTEST_TIMINGS=1`: milestones of the run on stderr, for profiling.
struct Trace {
    start: Instant,
    enabled: bool,
}

impl Trace {
    fn new() -> Trace {
        Trace {
            start: Instant::now(),
            enabled: crate::timings_enabled(),
        }
    }

    fn mark(&self, what: &str) {
        if self.enabled {
            eprintln!(
                "dbtest timings: {what} at {:.1} ms",
                self.start.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}

impl Dispatcher<'_> {
    fn main_loop(&mut self, interrupted: &dyn Fn() -> bool) {
        let mut requested = self.request_workers(interrupted);
        if self.outcome.interrupted {
            self.stop_dispatching("interrupted".into());
            return;
        }
        for slot in 0..self.slots.len() {
            if self.adopt(slot) {
                continue;
            }
            self.start_worker(slot, requested.pop_front());
            if self.outcome.fatal.is_some() {
                return;
            }
        }
        self.trace.mark("workers spawned");
        let mut last_tick = Instant::now();
        let mut last_interrupt_check = Instant::now();
        loop {
            // Asking Python about signals takes the GIL: a few times a second is enough.
            if last_interrupt_check.elapsed() >= INTERRUPT_POLL && {
                last_interrupt_check = Instant::now();
                interrupted()
            } {
                self.outcome.interrupted = true;
                self.stop_dispatching("interrupted".into());
                self.interrupt_running();
                self.end_all(ReapMode::Kill);
                return;
            }
            match self.events_rx.recv_timeout(self.wait_time()) {
                Ok(event) => {
                    self.handle(event);
                    // Drain what is already queued before doing periodic work.
                    for _ in 0..256 {
                        match self.events_rx.try_recv() {
                            Ok(event) => self.handle(event),
                            Err(_) => break,
                        }
                    }
                    self.observer.caught_up();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if self.outcome.fatal.is_some() {
                self.end_all(ReapMode::Kill);
                return;
            }
            self.check_timeouts();
            self.begin_checks(interrupted);
            if self.outcome.interrupted {
                self.stop_dispatching("interrupted".into());
                self.end_all(ReapMode::Kill);
                return;
            }
            self.check_budget();
            self.keep_workers_busy();
            self.retire_idle_workers();
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                let running = self.running();
                self.observer.tick(&running);
            }
            if self.finished() {
                return;
            }
        }
    }

    fn wait_time(&self) -> Duration {
        let mut wait = TICK;
        for live in self.slots.iter().flatten() {
            if let Some((_, limit)) = self.current_test(live) {
                let left =
                    Duration::from_secs_f64(limit).saturating_sub(live.last_activity.elapsed());
                wait = wait.min(left + Duration::from_millis(1));
            }
        }
        wait
    }

    /// Tests to hand out, or failures to rerun alone.
    fn work_left(&self) -> bool {
        !self.scheduler.is_empty() || !self.checks.is_empty()
    }

    fn finished(&self) -> bool {
        (!self.work_left() || self.outcome.stopped.is_some())
            && self.slots.iter().flatten().all(|l| l.inflight.is_empty())
            && self.pending.is_empty()
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Messages { process, messages } => {
                for message in messages {
                    self.on_message(process, message);
                }
            }
            Event::Closed { process, error } => {
                if let Some(slot) = self.slot_of(process) {
                    self.on_worker_lost(slot, error);
                }
            }
            Event::Output { process, line } => {
                let slot = self.slot_of(process).map_or(0, |s| s as u32 + 1);
                self.observer.worker_output(slot, &line);
            }
            Event::Reaped(reaped) => self.on_reaped(reaped),
        }
    }

    fn on_message(&mut self, process: u64, message: FromWorker) {
        match message {
            FromWorker::Fixture(report) => {
                // Module teardowns run at shutdown, when the worker is already being reaped.
                let worker = match self.slot_of(process) {
                    Some(slot) => slot as u32 + 1,
                    None => self.pending.get(&process).map_or(0, |p| p.slot),
                };
                self.on_fixture(worker, report);
            }
            message => {
                let Some(slot) = self.slot_of(process) else {
                    return;
                };
                if let Some(live) = self.slots[slot].as_mut() {
                    live.last_activity = Instant::now();
                }
                match message {
                    FromWorker::Hello(hello) => {
                        if hello.protocol != PROTOCOL_VERSION {
                            self.outcome.fatal = Some(format!(
                                "worker speaks protocol {} but the coordinator speaks {PROTOCOL_VERSION}; reinstall dbtest",
                                hello.protocol
                            ));
                        }
                        if !std::mem::replace(&mut self.any_greeted, true) {
                            self.trace.mark("first hello");
                        }
                        if self.outcome.python.is_none() {
                            // `sys.version`'s first line: "3.12.3 (main, …) [GCC …]".
                            self.outcome.python =
                                hello.python.split_whitespace().next().map(str::to_string);
                        }
                        if let Some(live) = self.slots[slot].as_mut() {
                            live.greeted = true;
                        }
                    }
                    FromWorker::Imported(imported) => self.on_imported(slot, imported),
                    FromWorker::Result(report) => self.on_result(slot, report),
                    FromWorker::Fixture(_) => {}
                    FromWorker::BatchDone(done) => self.on_batch_done(slot, done.batch),
                    FromWorker::Modules(modules) => self.on_modules(process, modules),
                }
            }
        }
    }

    fn finish(mut self) -> RunOutcome {
        self.trace.mark("last result");
        let parked = self.keeps_workers();
        if parked {
            self.park_workers();
        } else if !self.outcome.interrupted && self.outcome.fatal.is_none() {
            self.end_all(ReapMode::Shutdown);
        }
        // Collect what the reapers report (timeouts and crashes still pending).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.pending.is_empty() && Instant::now() < deadline {
            match self.events_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Event::Reaped(reaped)) => self.on_reaped(reaped),
                Ok(event @ Event::Messages { .. }) => self.handle(event),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        for handle in self.reapers.drain(..) {
            let _ = handle.join();
        }
        // Every worker is gone or parked: the server (running or degraded) can
        // go, unless it is kept with the parked workers.
        self.return_to_kept(parked);
        self.fork_server = ForkServerState::Unused;
        self.trace.mark("workers ended");
        self.outcome.not_run = self.done.iter().filter(|d| !**d).count();
        if self.options.time_budget.is_some() {
            self.outcome.unrun = self.unrun_ids();
        }
        self.outcome
    }
}
