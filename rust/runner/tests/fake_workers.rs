//! Fault tests: the dispatcher against deliberately misbehaving workers
//! (`workers/fake/worker.py`). Each mode must cost at most the tests it was
//! given, never hang the run, and never lose other results.
//!
//! Needs a `python3` with msgpack on PATH (`scripts/test` puts the project's
//! virtualenv first), or `DBTEST_TEST_PYTHON`.

use dbtest_model::{ErrorKind, Outcome, TestResult};
use dbtest_protocol::ModuleRef;
use dbtest_runner::{
    run, Plan, PlannedModule, PlannedTest, RunObserver, RunOutcome, RunnerOptions, SpawnSpec,
};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    std::env::var_os("DBTEST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn plan(tests: usize, timeout: Option<f64>) -> Plan {
    Plan {
        modules: vec![PlannedModule {
            rel: "test_fake.py".into(),
            module: ModuleRef {
                path: "/nonexistent/test_fake.py".into(),
                name: "test_fake".into(),
                import_root: "/nonexistent".into(),
            },
            tests: (0..tests)
                .map(|i| PlannedTest {
                    name: format!("test_{i}"),
                    group: None,
                    timeout,
                    estimate: None,
                })
                .collect(),
            run_unlisted: false,
            first: false,
        }],
    }
}

struct Quiet;
impl RunObserver for Quiet {}

fn run_fake(
    mode: &str,
    tests: usize,
    jobs: usize,
    timeout: Option<f64>,
    restarts: usize,
) -> RunOutcome {
    let run_dir = tempfile::tempdir().unwrap();
    let options = RunnerOptions {
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
        run_dir: run_dir.path().to_path_buf(),
        cache_dir: None,
        capture: true,
        capture_passed: false,
        output_limit: 1 << 20,
        default_timeout: None,
        max_failures: None,
        max_worker_restarts: restarts,
        retries: 0,
        max_tests_per_worker: None,
        max_worker_rss: None,
        longest_first: false,
    };
    let started = Instant::now();
    let outcome = run(
        plan(tests, timeout),
        &options,
        None,
        &mut Quiet,
        &|_, _| false,
        &|| false,
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{mode}: the run must end on its own"
    );
    outcome
}

fn count(results: &[TestResult], outcome: Outcome) -> usize {
    results.iter().filter(|r| r.outcome == outcome).count()
}

#[test]
fn good_fake_passes_everything() {
    let outcome = run_fake("good", 5, 2, None, 4);
    assert_eq!(count(&outcome.results, Outcome::Passed), 5, "{outcome:?}");
    assert!(outcome.fatal.is_none());
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
