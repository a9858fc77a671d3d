//! The dispatcher: one loop on the calling thread that owns every worker and
//! every test's state. It hears from workers through a single channel of
//! [`Event`]s (one reader thread per worker feeds it), hands out batches from the
//! [`Scheduler`], enforces timeouts and replaces workers that die.

use crate::forkserver::ForkServer;
use crate::plan::{Plan, PlannedModule};
use crate::process::{
    describe_exit, Event, ReapMode, Reaped, SpawnSpec, WorkerPipes, WorkerProcess,
};
use crate::scheduler::{ModuleFlags, Scheduler, TestEntry};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use dbtest_model::{ErrorKind, Outcome, Phase, TestResult};
use dbtest_protocol::{
    Discovered, Extend, FromWorker, Imported, RunBatch, TestReport, ToWorker, WorkerConfig,
    PROTOCOL_VERSION,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Estimate for tests never timed before (only ratios between estimates matter).
const DEFAULT_ESTIMATE: f64 = 0.01;
const TICK: Duration = Duration::from_millis(100);
const INTERRUPT_POLL: Duration = Duration::from_millis(50);
/// Estimated seconds below which a running batch gets a second one queued.
const PREFETCH_BELOW: f64 = 0.02;
/// Estimated seconds below which a batch's last test, once started, gets the
/// next batch queued behind it.
const PREFETCH_LAST_BELOW: f64 = 0.1;

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
    pub capture_passed: bool,
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
    /// Order work by recorded durations, longest first.
    pub longest_first: bool,
}

/// A test being run right now, for progress displays.
#[derive(Debug, Clone)]
pub struct Running {
    pub slot: u32,
    pub id: String,
    pub elapsed: Duration,
}

/// Hooks for live reporting; every method has a no-op default.
pub trait RunObserver {
    fn run_started(&mut self, _tests: usize, _workers: usize) {}
    /// Tests found at import time were added to the run.
    fn tests_added(&mut self, _count: usize) {}
    fn test_finished(&mut self, _result: &TestResult) {}
    /// A failing attempt that will be rerun (`--retries`).
    fn test_retried(&mut self, _result: &TestResult) {}
    /// A line a worker printed (only with output streaming, `-s`).
    fn worker_output(&mut self, _slot: u32, _line: &str) {}
    /// Called about ten times a second.
    fn tick(&mut self, _running: &[Running]) {}
    /// Every event that had arrived is handled; the dispatcher may wait next.
    /// The moment to flush what was buffered per result.
    fn caught_up(&mut self) {}
    fn warning(&mut self, _message: &str) {}
}

/// Decides whether a test found at import time (id, tags) belongs to the run.
/// It must refuse tests the plan already knows of (listed in any batch, or left
/// out on purpose): the worker reports everything its batch did not list.
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
}

struct InFlight {
    batch: u32,
    module: usize,
    /// Test indices by position: the listed tests, then admitted unlisted ones.
    tests: Vec<usize>,
    /// Positions in the order the worker runs them (results arrive in this order).
    order: Vec<usize>,
    /// How many of `order` have reported.
    next: usize,
    imported: bool,
    /// Estimated seconds the batch takes.
    estimate: f64,
}

impl InFlight {
    fn current(&self) -> Option<usize> {
        self.order.get(self.next).map(|&p| self.tests[p])
    }

    /// Tests after the current one, in run order.
    fn after_current(&self) -> impl Iterator<Item = usize> + '_ {
        self.order
            .iter()
            .skip(self.next + 1)
            .map(|&p| self.tests[p])
    }

    /// The current test and everything after it.
    fn unfinished(&self) -> impl Iterator<Item = usize> + '_ {
        self.order.iter().skip(self.next).map(|&p| self.tests[p])
    }
}

/// Run order after admitting unlisted tests: each one goes right after the last
/// test of its class already in the batch (so the class's set-up runs once),
/// or at the end.
fn merged_order(groups: &[Option<&str>], listed: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..listed).collect();
    for position in listed..groups.len() {
        let slot = groups[position]
            .and_then(|g| order.iter().rposition(|&p| groups[p] == Some(g)))
            .map_or(order.len(), |i| i + 1);
        order.insert(slot, position);
    }
    order
}

struct Live {
    process: WorkerProcess,
    greeted: bool,
    inflight: VecDeque<InFlight>,
    last_activity: Instant,
    affinity: Option<usize>,
    /// Tests sent to it so far (for `max_tests_per_worker`).
    tests_sent: usize,
    /// It gets no more work and is replaced once its batches are done.
    retiring: bool,
}

/// What to record once a reaped process is gone.
struct PendingReap {
    slot: u32,
    tests: Vec<usize>,
    kind: ErrorKind,
    phase: Phase,
    message: String,
    elapsed: f64,
    startup_failure: bool,
}

impl PendingReap {
    /// A worker ended on purpose (shutdown, recycling): nothing to record.
    fn quiet(slot: u32) -> PendingReap {
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

/// `fork_server`: one already started (by the `dbtest` command), used for every
/// worker; without it, one is started when more than one worker is needed.
pub fn run(
    mut plan: Plan,
    options: &RunnerOptions,
    fork_server: Option<ForkServer>,
    observer: &mut dyn RunObserver,
    select_unlisted: UnlistedFilter,
    interrupted: &dyn Fn() -> bool,
) -> RunOutcome {
    let mut table = Vec::with_capacity(plan.test_count());
    let known: Vec<f64> = plan
        .modules
        .iter()
        .flat_map(|m| m.tests.iter().filter_map(|t| t.estimate))
        .collect();
    let fallback = if known.is_empty() {
        DEFAULT_ESTIMATE
    } else {
        known.iter().sum::<f64>() / known.len() as f64
    };
    let flags: Vec<ModuleFlags> = plan
        .modules
        .iter()
        .map(|m| ModuleFlags {
            run_unlisted: m.run_unlisted,
            first: m.first,
        })
        .collect();
    let probes = plan
        .modules
        .iter()
        .filter(|m| m.run_unlisted && m.tests.is_empty())
        .count();
    // The plan's tests move into the table: one copy of each id for the run.
    let mut planned = Vec::with_capacity(plan.modules.len());
    for (m, module) in plan.modules.iter_mut().enumerate() {
        let first = table.len();
        for test in module.tests.drain(..) {
            table.push(TestEntry {
                name: test.name,
                module: m,
                group: test.group,
                timeout: test.timeout,
                estimate: test.estimate.unwrap_or(fallback).max(1e-6),
            });
        }
        planned.push(first..table.len());
    }
    let work_units = table.len() + probes;
    let workers = options.jobs.max(1).min(work_units.max(1));
    let scheduler = Scheduler::new(
        &table,
        &flags,
        workers,
        options.longest_first && !known.is_empty(),
    );
    let (events_tx, events_rx) = crossbeam_channel::unbounded();
    let table_len = table.len();
    let mut dispatcher = Dispatcher {
        options,
        observer,
        select_unlisted,
        done: vec![false; table.len()],
        attempts: vec![0; table.len()],
        table,
        modules: plan.modules,
        planned,
        scheduler,
        slots: (0..workers).map(|_| None).collect(),
        retired: vec![false; workers],
        events_tx,
        events_rx,
        next_process: 1,
        next_batch: 1,
        outcome: RunOutcome {
            workers,
            // Reserved once: growing by doubling would briefly hold two copies.
            results: Vec::with_capacity(table_len),
            ..RunOutcome::default()
        },
        pending: HashMap::new(),
        skipped_modules: HashSet::new(),
        reapers: Vec::new(),
        restarts: 0,
        failures: 0,
        any_greeted: false,
        fallback_estimate: fallback,
        fork_server: match fork_server {
            Some(server) if options.spawn.fork_server => ForkServerState::Running(server),
            _ if options.spawn.fork_server && workers > 1 => ForkServerState::NotStarted,
            _ => ForkServerState::Unused,
        },
        trace: Trace::new(),
    };
    if work_units == 0 {
        return dispatcher.outcome;
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
    fork_server: ForkServerState,
    trace: Trace,
}

/// Workers come from a fork server when more than one is started; if the
/// server cannot be started or stops answering, interpreters are started
/// directly for the rest of the run.
enum ForkServerState {
    Unused,
    NotStarted,
    Running(ForkServer),
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
        let mut requested = self.request_workers();
        for slot in 0..self.slots.len() {
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

    /// Work can reappear after a worker went idle (requeued after a crash, a
    /// retry): give it to idle workers, and restart slots left empty.
    fn keep_workers_busy(&mut self) {
        for slot in 0..self.slots.len() {
            if self.scheduler.is_empty() || self.outcome.stopped.is_some() {
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

    fn finished(&self) -> bool {
        (self.scheduler.is_empty() || self.outcome.stopped.is_some())
            && self.slots.iter().flatten().all(|l| l.inflight.is_empty())
            && self.pending.is_empty()
    }

    fn fork_server(&mut self) -> Option<&mut ForkServer> {
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
    /// waiting for a round trip per worker. In slot order.
    fn request_workers(&mut self) -> VecDeque<WorkerPipes> {
        let count = self.slots.len();
        let mut requested = VecDeque::with_capacity(count);
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

    /// `requested`: pipes the fork server was already asked to fork a worker
    /// with (see `request_workers`).
    fn start_worker(&mut self, slot: usize, requested: Option<WorkerPipes>) {
        let id = self.next_process;
        self.next_process += 1;
        let traceback_file = self.options.run_dir.join(format!("worker-{id}.tb"));
        let (options, events) = (self.options, self.events_tx.clone());
        let spec = &options.spawn;
        let spawn = |server: Option<&mut ForkServer>, requested: Option<WorkerPipes>| {
            WorkerProcess::spawn(
                spec,
                server,
                requested,
                id,
                slot as u32 + 1,
                traceback_file.clone(),
                events.clone(),
            )
        };
        let forked = self
            .fork_server()
            .map(|server| spawn(Some(server), requested));
        let spawned = match forked {
            Some(Ok(process)) => Ok(process),
            // No server, or it stopped answering: interpreters from now on.
            _ => {
                self.fork_server = ForkServerState::Unused;
                spawn(None, None)
            }
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
        let config = ToWorker::Config(WorkerConfig {
            protocol: PROTOCOL_VERSION,
            worker: slot as u32 + 1,
            rootdir: self.options.rootdir.to_string_lossy().into_owned(),
            capture: self.options.capture,
            capture_passed: self.options.capture_passed,
            output_limit: self.options.output_limit,
            traceback_file: traceback_file.to_string_lossy().into_owned(),
            cache_dir: self
                .options
                .cache_dir
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned()),
        });
        if let Err(err) = process.send(&config) {
            self.outcome.fatal = Some(format!("cannot configure a worker: {err}"));
        }
        self.slots[slot] = Some(Live {
            process,
            greeted: false,
            inflight: VecDeque::new(),
            last_activity: Instant::now(),
            affinity: None,
            tests_sent: 0,
            retiring: false,
        });
        self.refill(slot);
    }

    fn slot_of(&self, process: u64) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|l| l.process.id == process))
    }

    /// Batches to keep queued on a worker. A second one only pays when the
    /// round trip to the coordinator would idle the worker noticeably (a short
    /// running batch) or when it commits little work early (the running batch
    /// is on its last test, and that test is short); otherwise it would only
    /// commit work early.
    fn prefetch_depth(&self, live: &Live) -> usize {
        let Some(head) = live.inflight.front() else {
            return 1;
        };
        let short_batch = head.estimate < PREFETCH_BELOW
            && self.scheduler.remaining_tests() >= self.slots.len() * 8;
        // Without a batch queued, the worker idles at the end of each batch for
        // a round trip. Once the last test of the batch is running, queuing the
        // next commits work only that test's duration early.
        let on_short_last = head.next + 1 == head.order.len()
            && head
                .current()
                .is_some_and(|test| self.table[test].estimate < PREFETCH_LAST_BELOW);
        if self.options.max_failures.is_none() && (short_batch || on_short_last) {
            2
        } else {
            1
        }
    }

    fn refill(&mut self, slot: usize) {
        if self.outcome.stopped.is_some() {
            return;
        }
        loop {
            let Some(live) = self.slots[slot].as_ref() else {
                return;
            };
            if live.inflight.len() >= self.prefetch_depth(live) || live.retiring {
                return;
            }
            let budget = match self.options.max_tests_per_worker {
                Some(max) if live.tests_sent >= max => return,
                Some(max) => max - live.tests_sent,
                None => usize::MAX,
            };
            let affinity = live.affinity;
            let Some(batch) = self.scheduler.next_batch(affinity, budget) else {
                return;
            };
            let id = self.next_batch;
            self.next_batch += 1;
            let module: &PlannedModule = &self.modules[batch.module];
            let message = ToWorker::Run(RunBatch {
                batch: id,
                module: module.module.clone(),
                tests: batch
                    .tests
                    .iter()
                    .map(|&t| self.table[t].name.clone())
                    .collect(),
                run_unlisted: batch.run_unlisted,
                known: if batch.run_unlisted {
                    self.table[self.planned[batch.module].clone()]
                        .iter()
                        .map(|t| t.name.clone())
                        .collect()
                } else {
                    Vec::new()
                },
            });
            let Some(live) = self.slots[slot].as_mut() else {
                return;
            };
            if live.inflight.is_empty() {
                live.last_activity = Instant::now();
            }
            if let Err(err) = live.process.send(&message) {
                self.observer.warning(&format!(
                    "cannot send a batch to worker {}: {err}",
                    slot + 1
                ));
            }
            live.affinity = Some(batch.module);
            live.tests_sent += batch.tests.len();
            let estimate = batch.tests.iter().map(|&t| self.table[t].estimate).sum();
            live.inflight.push_back(InFlight {
                estimate,
                batch: id,
                module: batch.module,
                order: (0..batch.tests.len()).collect(),
                tests: batch.tests,
                next: 0,
                imported: false,
            });
        }
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
                        if let Some(live) = self.slots[slot].as_mut() {
                            live.greeted = true;
                        }
                    }
                    FromWorker::Imported(imported) => self.on_imported(slot, imported),
                    FromWorker::Result(report) => self.on_result(slot, report),
                    FromWorker::Fixture(_) => {}
                    FromWorker::BatchDone(done) => self.on_batch_done(slot, done.batch),
                }
            }
        }
    }

    fn protocol_violation(&mut self, slot: usize, what: String) {
        self.on_worker_lost(slot, Some(what));
    }

    fn on_imported(&mut self, slot: usize, imported: Imported) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let Some(flight) = live.inflight.iter_mut().find(|f| f.batch == imported.batch) else {
            return self.protocol_violation(
                slot,
                format!("`imported` for unknown batch {}", imported.batch),
            );
        };
        flight.imported = true;
        let module = flight.module;
        if imported.unlisted.is_empty() {
            return;
        }
        let chosen = self.admit_unlisted(module, &imported.unlisted);
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let Some(flight) = live.inflight.iter_mut().find(|f| f.batch == imported.batch) else {
            return;
        };
        let listed = flight.tests.len();
        let mut positions = Vec::with_capacity(chosen.len());
        for (index, test) in chosen {
            positions.push(index as u32);
            flight.tests.push(test);
        }
        let groups: Vec<Option<&str>> = flight
            .tests
            .iter()
            .map(|&t| self.table[t].group.as_deref())
            .collect();
        flight.order = merged_order(&groups, listed);
        let message = ToWorker::Extend(Extend {
            batch: imported.batch,
            unlisted: positions,
            order: flight.order.iter().map(|&p| p as u32).collect(),
        });
        if let Err(err) = live.process.send(&message) {
            self.observer
                .warning(&format!("cannot extend a batch: {err}"));
        }
    }

    /// Adds the selected tests a module showed at import to the run.
    /// Returns (index in `unlisted`, test index) pairs.
    fn admit_unlisted(&mut self, module: usize, unlisted: &[Discovered]) -> Vec<(usize, usize)> {
        let rel = &self.modules[module].rel;
        let mut chosen = Vec::new();
        for (index, found) in unlisted.iter().enumerate() {
            let id = format!("{rel}::{}", found.name);
            if !(self.select_unlisted)(&id, &found.tags) {
                continue;
            }
            let group = found
                .name
                .rsplit_once("::")
                .map(|(class, _)| class.to_string());
            self.table.push(TestEntry {
                name: found.name.clone(),
                module,
                group,
                timeout: None,
                estimate: self.fallback_estimate,
            });
            self.done.push(false);
            self.attempts.push(0);
            chosen.push((index, self.table.len() - 1));
        }
        if !chosen.is_empty() {
            self.observer.tests_added(chosen.len());
        }
        chosen
    }

    fn on_result(&mut self, slot: usize, report: TestReport) {
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
        if flight.order.get(flight.next) == Some(&position) {
            flight.next += 1;
        } else if let Some(index) = flight.order.iter().position(|&p| p == position) {
            flight.next = flight.next.max(index + 1);
        }
        let mut result = TestResult::new(self.id_of(test), report.outcome, report.phase);
        result.error_kind = report.error_kind;
        result.duration = report.duration;
        result.worker = slot as u32 + 1;
        result.message = report.message;
        result.traceback = report.traceback;
        result.stdout = report.stdout;
        result.stderr = report.stderr;
        result.subtests_passed = report.subtests_passed;
        result.warnings = report.warnings;
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
        self.record(test, result);
        self.refill(slot);
    }

    fn on_fixture(&mut self, worker: u32, report: dbtest_protocol::FixtureReport) {
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
        result.message = report.message;
        result.traceback = report.traceback;
        result.stdout = report.stdout;
        result.stderr = report.stderr;
        self.count_and_publish(result);
    }

    /// Records a test's result, or requeues it for another attempt (`--retries`).
    fn record(&mut self, test: usize, mut result: TestResult) {
        if self.done[test] {
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
            self.scheduler.requeue(&[test], &self.table);
            return;
        }
        result.flaky = result.outcome == Outcome::Passed && result.attempts > 1;
        self.done[test] = true;
        self.count_and_publish(result);
    }

    fn count_and_publish(&mut self, result: TestResult) {
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

    fn stop_dispatching(&mut self, why: String) {
        if self.outcome.stopped.is_none() {
            self.outcome.stopped = Some(why);
        }
        self.scheduler.drain();
    }

    fn on_batch_done(&mut self, slot: usize, batch: u32) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let Some(index) = live.inflight.iter().position(|f| f.batch == batch) else {
            return self
                .protocol_violation(slot, format!("`batch_done` for unknown batch {batch}"));
        };
        let Some(flight) = live.inflight.remove(index) else {
            return;
        };
        let unreported: Vec<usize> = flight.unfinished().collect();
        for test in unreported {
            let result = self.error_result(
                test,
                slot as u32 + 1,
                ErrorKind::Protocol,
                Phase::Call,
                "the worker finished the batch without reporting this test".into(),
                None,
                0.0,
            );
            self.record(test, result);
        }
        self.maybe_recycle(slot);
        self.refill(slot);
    }

    /// Ends the workers that have nothing left to do once all work is handed
    /// out, rather than at the end of the run: their module teardowns and exits
    /// overlap the tests still running elsewhere. Not while a batch somewhere may
    /// still reveal tests only its import shows (they may need workers); work
    /// that reappears later (a retry, a crash's requeue) restarts the slot.
    fn retire_idle_workers(&mut self) {
        if !self.scheduler.is_empty() || self.outcome.stopped.is_some() {
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
    fn maybe_recycle(&mut self, slot: usize) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let too_many = self
            .options
            .max_tests_per_worker
            .is_some_and(|max| live.tests_sent >= max);
        let too_big = self.options.max_worker_rss.is_some_and(|max| {
            crate::process::resident_bytes(live.process.pid).is_some_and(|rss| rss > max)
        });
        live.retiring |= too_many || too_big;
        if !live.retiring || !live.inflight.is_empty() {
            return;
        }
        self.retire(slot);
        if !self.scheduler.is_empty() && self.outcome.stopped.is_none() {
            self.start_worker(slot, None);
        }
    }

    /// Asks the worker in `slot` to shut down and leaves the slot empty; the
    /// worker is reaped in the background (module teardowns may still report).
    fn retire(&mut self, slot: usize) {
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

    #[allow(clippy::too_many_arguments)]
    fn error_result(
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

    /// `<module rel>::<name>`: built when needed rather than stored per test.
    fn id_of(&self, test: usize) -> String {
        let entry = &self.table[test];
        format!("{}::{}", self.modules[entry.module].rel, entry.name)
    }

    /// The test a worker is busy with and its time limit, if it has one.
    fn current_test(&self, live: &Live) -> Option<(usize, f64)> {
        let test = live.inflight.front()?.current()?;
        let limit = self.table[test].timeout.or(self.options.default_timeout)?;
        Some((test, limit))
    }

    fn running(&self) -> Vec<Running> {
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

    fn check_timeouts(&mut self) {
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
            let (culprits, mut rest, message) = if head.imported {
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
            self.scheduler.requeue(&rest, &self.table);
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

    fn on_worker_lost(&mut self, slot: usize, protocol_error: Option<String>) {
        let Some(mut live) = self.slots[slot].take() else {
            return;
        };
        let elapsed = live.last_activity.elapsed().as_secs_f64();
        let mut culprits = Vec::new();
        let mut rest = Vec::new();
        let mut importing = false;
        if let Some(head) = live.inflight.pop_front() {
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
        self.scheduler.requeue(&rest, &self.table);
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

    fn replace_worker(&mut self, slot: usize) {
        if self.scheduler.is_empty() || self.outcome.stopped.is_some() {
            return;
        }
        if self.restarts >= self.options.max_worker_restarts {
            self.stop_dispatching(format!(
                "stopped after {} worker restarts (--max-worker-restart)",
                self.restarts
            ));
            return;
        }
        self.restarts += 1;
        self.start_worker(slot, None);
    }

    fn on_reaped(&mut self, reaped: Reaped) {
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
        let message = match pending.kind {
            ErrorKind::Timeout => pending.message.clone(),
            _ => format!("{} ({exit})", pending.message),
        };
        let mut traceback = String::new();
        let dump = without_worker_frames(&reaped.dump);
        if !dump.trim().is_empty() {
            traceback.push_str(dump.trim_end());
            traceback.push('\n');
        }
        if pending.kind != ErrorKind::Timeout && !reaped.tail.trim().is_empty() {
            traceback.push_str("--- worker output ---\n");
            traceback.push_str(reaped.tail.trim_end());
            traceback.push('\n');
        }
        for &test in &pending.tests {
            let result = self.error_result(
                test,
                pending.slot,
                pending.kind,
                pending.phase,
                message.clone(),
                (!traceback.is_empty()).then(|| traceback.clone()),
                pending.elapsed,
            );
            self.record(test, result);
        }
    }

    fn end_all(&mut self, mode: ReapMode) {
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

    fn finish(mut self) -> RunOutcome {
        self.trace.mark("last result");
        if !self.outcome.interrupted && self.outcome.fatal.is_none() {
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
        // Every worker is gone: the server can go.
        self.fork_server = ForkServerState::Unused;
        self.trace.mark("workers ended");
        self.outcome.not_run = self.done.iter().filter(|d| !**d).count();
        self.outcome
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
