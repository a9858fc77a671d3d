//! Fault tests: the dispatcher against deliberately misbehaving workers
//! (`workers/fake/worker.py`) and fork servers (`workers/fake/fork_server.py`).
//! Each mode must cost at most the tests it was given, never hang the run, and
//! never lose other results. Also what the dispatcher does for well-behaved
//! workers that only a fake can show (recycling by memory).
//!
//! Needs a `python3` with msgpack on PATH (`scripts/test` puts the project's
//! virtualenv first), or `DBTEST_TEST_PYTHON`.

use dbtest_model::{ErrorKind, Outcome, RunObserver, TestResult};
use dbtest_protocol::ModuleRef;
use dbtest_runner::{run, Plan, PlannedModule, PlannedTest, RunOutcome, RunnerOptions, SpawnSpec};
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longer than any of these runs takes on a loaded machine, short enough that
/// a hang fails the test instead of stalling the suite.
const RUN_WITHIN: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    std::env::var_os("DBTEST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// A module `rel` with tests `(name, recorded duration)`.
fn module(rel: &str, tests: &[(&str, Option<f64>)], timeout: Option<f64>) -> PlannedModule {
    let name = rel.trim_end_matches(".py");
    PlannedModule {
        rel: rel.into(),
        module: ModuleRef {
            path: format!("/nonexistent/{rel}"),
            name: name.into(),
            import_root: "/nonexistent".into(),
        },
        tests: tests
            .iter()
            .map(|&(name, estimate)| PlannedTest {
                name: name.into(),
                group: None,
                timeout,
                estimate,
            })
            .collect(),
        run_unlisted: false,
        unplanned: Vec::new(),
        first: false,
        whole: false,
    }
}

fn plan(tests: usize, timeout: Option<f64>) -> Plan {
    let names: Vec<String> = (0..tests).map(|i| format!("test_{i}")).collect();
    let tests: Vec<(&str, Option<f64>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    Plan {
        modules: vec![module("test_fake.py", &tests, timeout)],
    }
}

fn options(mode: &str, jobs: usize, restarts: usize) -> RunnerOptions {
    RunnerOptions {
        jobs,
        spawn: SpawnSpec {
            python: python(),
            args: vec![
                OsString::from(repo().join("workers/fake/worker.py")),
                OsString::from(mode),
            ],
            cwd: repo(),
            env: Vec::new(),
            stream_output: false,
            fork_server: false,
        },
        rootdir: repo(),
        run_dir: PathBuf::new(),
        cache_dir: None,
        capture: true,
        pytest: dbtest_protocol::PytestOptions::default(),
        preload: Vec::new(),
        output_limit: 1 << 20,
        default_timeout: None,
        max_failures: None,
        max_worker_restarts: restarts,
        retries: 0,
        max_tests_per_worker: None,
        max_worker_rss: None,
        longest_first: false,
        shuffle: None,
        import_all: false,
        rerun_alone: 0,
        coverage: None,
        epoch: std::time::Instant::now(),
        time_budget: None,
        planned_order: false,
        collect_only: false,
    }
}

/// Collects the warnings a run gives.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl RunObserver for Warnings {
    fn warning(&mut self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

impl Warnings {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Runs `plan` on another thread and fails the test if the run does not end
/// on its own within [`RUN_WITHIN`].
fn run_bounded(
    plan: Plan,
    mut options: RunnerOptions,
    mut observer: Warnings,
    select_unlisted: impl Fn(&str, &[String]) -> bool + Send + 'static,
) -> RunOutcome {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let run_dir = tempfile::tempdir().unwrap();
        options.run_dir = run_dir.path().to_path_buf();
        let outcome = run(
            plan,
            &options,
            None,
            &mut observer,
            &select_unlisted,
            &|| false,
        );
        let _ = done_tx.send(outcome);
    });
    done_rx
        .recv_timeout(RUN_WITHIN)
        .expect("the run must end on its own")
}

fn run_fake(
    mode: &str,
    tests: usize,
    jobs: usize,
    timeout: Option<f64>,
    restarts: usize,
) -> RunOutcome {
    run_bounded(
        plan(tests, timeout),
        options(mode, jobs, restarts),
        Warnings::default(),
        |_, _| false,
    )
}

fn count(results: &[TestResult], outcome: Outcome) -> usize {
    results.iter().filter(|r| r.outcome == outcome).count()
}

#[test]
fn good_fake_passes_everything() {
    let outcome = run_fake("good", 5, 2, None, 4);
    assert_eq!(count(&outcome.results, Outcome::Passed), 5, "{outcome:?}");
    assert!(outcome.fatal.is_none());
    assert_eq!(outcome.python.as_deref(), Some("3.99.0"), "from hello");
}

#[test]
fn hanging_worker_times_out_each_test_it_holds() {
    let outcome = run_fake("hang", 2, 1, Some(0.5), 8);
    assert_eq!(outcome.results.len(), 2, "{outcome:?}");
    for result in &outcome.results {
        assert_eq!(result.error_kind, Some(ErrorKind::Timeout), "{result:?}");
        assert!(result
            .message
            .as_deref()
            .unwrap_or("")
            .contains("timed out after 0.5 s"));
    }
}

#[test]
fn crash_mid_frame_is_a_protocol_error_and_restarts_are_bounded() {
    let outcome = run_fake("crash_mid_frame", 6, 1, None, 2);
    let errors: Vec<_> = outcome
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Error)
        .collect();
    assert!(!errors.is_empty(), "{outcome:?}");
    assert!(
        errors
            .iter()
            .all(|r| matches!(r.error_kind, Some(ErrorKind::Protocol | ErrorKind::Crash))),
        "{errors:?}"
    );
    assert_eq!(
        outcome.results.len() + outcome.not_run,
        6,
        "no test is lost or doubled"
    );
    assert!(
        outcome.not_run > 0,
        "a crash loop ends the run: {outcome:?}"
    );
    assert!(
        outcome
            .stopped
            .as_deref()
            .unwrap_or("")
            .contains("restarts"),
        "{outcome:?}"
    );
}

#[test]
fn corrupt_frame_fails_the_running_test_and_the_run_goes_on() {
    let outcome = run_fake("corrupt", 3, 1, None, 4);
    let first = outcome
        .results
        .iter()
        .find(|r| r.outcome == Outcome::Error)
        .expect("an error result");
    assert_eq!(first.error_kind, Some(ErrorKind::Protocol));
    assert!(
        first
            .message
            .as_deref()
            .unwrap_or("")
            .contains("undecodable frame"),
        "{first:?}"
    );
    assert_eq!(outcome.results.len() + outcome.not_run, 3);
}

#[test]
fn oversized_frame_is_rejected_without_reading_it() {
    let outcome = run_fake("oversized", 1, 1, None, 0);
    assert_eq!(outcome.results.len(), 1, "{outcome:?}");
    let message = outcome.results[0].message.as_deref().unwrap_or("");
    assert!(message.contains("exceeds"), "{message}");
}

#[test]
fn a_flood_of_output_does_not_block_the_protocol() {
    let outcome = run_fake("flood", 4, 2, None, 0);
    assert_eq!(count(&outcome.results, Outcome::Passed), 4, "{outcome:?}");
}

#[test]
fn a_worker_that_never_starts_is_an_internal_error() {
    let outcome = run_fake("silent_exit", 2, 2, None, 4);
    let fatal = outcome.fatal.expect("fatal error");
    assert!(fatal.contains("worker failed to start"), "{fatal}");
}

#[test]
fn exit_after_hello_names_the_exit_code() {
    let outcome = run_fake("exit_after_hello", 1, 1, None, 0);
    assert_eq!(outcome.results.len(), 1, "{outcome:?}");
    let result = &outcome.results[0];
    assert_eq!(result.error_kind, Some(ErrorKind::Crash));
    assert!(
        result
            .message
            .as_deref()
            .unwrap_or("")
            .contains("exited with code 3"),
        "{result:?}"
    );
}

#[test]
fn wrong_protocol_version_is_an_internal_error() {
    let outcome = run_fake("wrong_protocol", 1, 1, None, 0);
    assert!(outcome.fatal.unwrap_or_default().contains("protocol 999"));
}

/// A fork server that fails a request mid-run (`refuse`: it cannot fork;
/// `garbage`: its answer makes no sense) while a worker it forked is in the
/// middle of a test. That worker must live on and finish (it dies with the
/// server), and nothing may be reported as a crash or count as a restart.
fn fork_server_failing_mid_run(failure: &str) {
    let gate = tempfile::tempdir().unwrap();
    let mut options = options("gated", 2, 0);
    options.spawn.fork_server = true;
    options.spawn.env = vec![
        ("DBTEST_FAKE_FORKS".into(), "2".into()),
        ("DBTEST_FAKE_FORK_SERVER".into(), failure.into()),
        (
            "DBTEST_FAKE_GATE".into(),
            gate.path().join("open").into_os_string(),
        ),
    ];
    // The second worker is recycled after two tests; its replacement is the
    // third request, which fails. The first worker is meanwhile in
    // `test_gated`, which waits until the server has failed.
    options.max_tests_per_worker = Some(2);
    let plan = Plan {
        modules: vec![
            module("test_slow.py", &[("test_gated", Some(1.0))], None),
            module(
                "test_fast.py",
                &[
                    ("test_0", Some(0.001)),
                    ("test_1", Some(0.001)),
                    ("test_2", Some(0.001)),
                    ("test_3", Some(0.001)),
                ],
                None,
            ),
        ],
    };
    let warnings = Warnings::default();
    let outcome = run_bounded(plan, options, warnings.clone(), |_, _| false);
    assert!(
        warnings
            .all()
            .iter()
            .any(|w| w.contains("the fork server failed")),
        "the server must have failed a request: {:?}",
        warnings.all()
    );
    assert_eq!(count(&outcome.results, Outcome::Passed), 5, "{outcome:?}");
    assert!(
        outcome.stopped.is_none() && outcome.fatal.is_none(),
        "no restart may be used up: {outcome:?}"
    );
}

#[test]
fn a_fork_server_that_cannot_fork_leaves_its_workers_running() {
    fork_server_failing_mid_run("refuse");
}

#[test]
fn a_fork_server_that_answers_garbage_leaves_its_workers_running() {
    fork_server_failing_mid_run("garbage");
}

/// The pids that ran three one-test modules on one `grow` worker (it keeps
/// 32 MB more per batch and names its pid in each result).
fn pids_of_a_growing_worker(max_worker_rss: Option<u64>) -> HashSet<String> {
    let mut options = options("grow", 1, 0);
    options.max_worker_rss = max_worker_rss;
    let plan = Plan {
        modules: (0..3)
            .map(|i| module(&format!("test_m{i}.py"), &[("test_a", None)], None))
            .collect(),
    };
    let outcome = run_bounded(plan, options, Warnings::default(), |_, _| false);
    assert_eq!(count(&outcome.results, Outcome::Passed), 3, "{outcome:?}");
    outcome
        .results
        .iter()
        .filter_map(|r| r.message.clone())
        .collect()
}

#[test]
fn a_worker_above_the_memory_limit_is_replaced_between_batches() {
    assert_eq!(
        pids_of_a_growing_worker(None).len(),
        1,
        "without a limit, one worker runs everything"
    );
    // A fresh fake worker holds about 10 MB; after a batch, over 40 MB.
    let pids = pids_of_a_growing_worker(Some(24 << 20));
    assert!(pids.len() >= 2, "{pids:?}");
}

/// A module imported to find more tests (`run_unlisted`) whose static tests do
/// not all run (`test_drop` deselected): its worker is told of every static
/// test, so it reports only the one the static pass missed (`test_found`),
/// and the run's filter never sees the deselected one.
#[test]
fn a_worker_reports_only_tests_the_static_pass_missed() {
    let mut options = options("unlisted", 1, 0);
    options.spawn.env = vec![(
        "DBTEST_FAKE_DEFINED".into(),
        "test_keep,test_drop,test_found".into(),
    )];
    let mut planned = module("test_mod.py", &[("test_keep", None)], None);
    planned.run_unlisted = true;
    planned.unplanned = vec!["test_drop".into()];
    let asked = Arc::new(Mutex::new(Vec::new()));
    let asked_by_filter = Arc::clone(&asked);
    let outcome = run_bounded(
        Plan {
            modules: vec![planned],
        },
        options,
        Warnings::default(),
        move |id, _| {
            asked_by_filter.lock().unwrap().push(id.to_string());
            true
        },
    );
    assert_eq!(*asked.lock().unwrap(), ["test_mod.py::test_found"]);
    let mut ran: Vec<&str> = outcome.results.iter().map(|r| r.id.as_str()).collect();
    ran.sort_unstable();
    assert_eq!(ran, ["test_mod.py::test_found", "test_mod.py::test_keep"]);
    assert_eq!(count(&outcome.results, Outcome::Passed), 2, "{outcome:?}");
}
