//! The coordinator: everything `dbtest` does after the shim has parsed the
//! command line. Entered through the Python extension (`dbtest._core.run`) or
//! the `dbtest-coordinator` binary, with the same JSON arguments.

mod cache;
mod error;
pub mod exit;
mod pipeline;
mod state;

pub use error::CoordinatorError;

use cache::Cache;
use dbtest_config::{CliArgs, Command, Format, Settings};
use dbtest_model::{ErrorKind, Kind, Outcome, Phase, Style, TestResult};
use dbtest_protocol::ModuleRef;
use dbtest_report::{ConsoleOptions, ConsoleReporter, RunSummary};
use dbtest_runner::{Plan, PlannedModule, PlannedTest, RunObserver, RunnerOptions, SpawnSpec};
use pipeline::{Collected, Selection};
use std::collections::{BTreeSet, HashSet};
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Captured output kept per stream and test.
const OUTPUT_LIMIT: u32 = 1024 * 1024;

/// Runs a whole `dbtest` invocation and returns its exit code. `interrupted` is
/// polled (about ten times a second) to learn of Ctrl-C.
pub fn run(cli: CliArgs, interrupted: &dyn Fn() -> bool) -> i32 {
    match run_inner(cli, interrupted) {
        Ok(code) => code,
        Err(err) => {
            let _ = std::io::stdout().flush();
            eprintln!("dbtest: error: {err}");
            err.exit_code()
        }
    }
}

/// Parses the shim's JSON arguments, then [`run`]s.
pub fn run_json(args: &str, interrupted: &dyn Fn() -> bool) -> i32 {
    match dbtest_config::parse_cli_json(args) {
        Ok(cli) => run(cli, interrupted),
        Err(err) => {
            eprintln!("dbtest: error: {err}");
            exit::INTERNAL_ERROR
        }
    }
}

/// The `dbtest list --format json` document for these arguments, without
/// printing anything or running any test.
pub fn list_document(args: &str) -> Result<String, CoordinatorError> {
    let cli = dbtest_config::parse_cli_json(args)?;
    let settings = Settings::resolve(cli)?;
    let (collected, targets) = pipeline::collect(&settings)?;
    let selection = pipeline::select(&settings, &collected, targets)?;
    Ok(list_json(&collected, &selection).to_string())
}

fn run_inner(cli: CliArgs, interrupted: &dyn Fn() -> bool) -> Result<i32, CoordinatorError> {
    let started = Instant::now();
    let settings = Settings::resolve(cli)?;
    let (collected, targets) = pipeline::collect(&settings)?;
    let selection = pipeline::select(&settings, &collected, targets)?;
    match settings.command {
        Command::List => list(&settings, &collected, &selection),
        Command::Run => execute(&settings, &collected, &selection, interrupted, started),
    }
}

fn collection_error_results(collected: &Collected) -> Vec<TestResult> {
    collected
        .errors
        .iter()
        .map(|err| {
            let mut result = TestResult::new(err.rel.clone(), Outcome::Error, Phase::Import);
            result.error_kind = Some(ErrorKind::Collection);
            result.message = Some(if err.line > 0 {
                format!("{} (line {}, column {})", err.message, err.line, err.column)
            } else {
                err.message.clone()
            });
            result
        })
        .collect()
}

fn list(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
) -> Result<i32, CoordinatorError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write_failed =
        |e: std::io::Error| CoordinatorError::Internal(format!("cannot write to stdout: {e}"));
    match settings.format {
        Format::Console => {
            for &i in &selection.items {
                writeln!(out, "{}", collected.items[i].id).map_err(write_failed)?;
            }
        }
        Format::Json => {
            writeln!(out, "{}", list_json(collected, selection)).map_err(write_failed)?;
        }
    }
    out.flush().map_err(write_failed)?;
    drop(out);
    if settings.format == Format::Console {
        for err in &collected.errors {
            eprintln!("ERROR {err}");
        }
    }
    Ok(if !collected.errors.is_empty() {
        exit::TESTS_FAILED
    } else if selection.items.is_empty() {
        exit::NO_TESTS
    } else {
        exit::OK
    })
}

fn list_json(collected: &Collected, selection: &Selection) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = selection
        .items
        .iter()
        .map(|&i| {
            let item = &collected.items[i];
            serde_json::json!({
                "id": item.id,
                "file": collected.files[item.file].rel,
                "name": item.name,
                "line": item.line,
                "style": item.style.as_str(),
                "kind": item.kind.as_str(),
                "async": item.is_async,
                "tags": item.tags,
                "skip": item.skip,
                "timeout": item.timeout,
            })
        })
        .collect();
    let errors: Vec<serde_json::Value> = collected
        .errors
        .iter()
        .map(|e| serde_json::json!({"file": e.rel, "line": e.line, "column": e.column, "message": e.message}))
        .collect();
    serde_json::json!({"version": 1, "tests": tests, "errors": errors})
}

/// What `--lf`/`--ff` make of the selection.
struct Rerun {
    /// The selected items to run, in collection order.
    items: Vec<usize>,
    /// Files to import only to find tests the static pass could not see.
    probes: Vec<usize>,
    /// Ids of last run's failures, when only those run (`--lf`).
    only: Option<BTreeSet<String>>,
    /// Ids of last run's failures, to start with (`--ff`).
    first: BTreeSet<String>,
    note: Option<String>,
}

fn apply_last_failed(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
    failed: &BTreeSet<String>,
) -> Rerun {
    let mut rerun = Rerun {
        items: selection.items.clone(),
        probes: selection.probes.clone(),
        only: None,
        first: BTreeSet::new(),
        note: None,
    };
    if settings.failed_first {
        rerun.first = failed.clone();
    }
    if !settings.last_failed {
        return rerun;
    }
    let static_ids: HashSet<&str> = collected.items.iter().map(|i| i.id.as_str()).collect();
    let items: Vec<usize> = selection
        .items
        .iter()
        .copied()
        .filter(|&i| failed.contains(&collected.items[i].id))
        .collect();
    // Failures among tests only an import reveals: import their files again.
    let probes: Vec<usize> = (0..collected.files.len())
        .filter(|&f| {
            let prefix = format!("{}::", collected.files[f].rel);
            failed
                .iter()
                .any(|id| id.starts_with(&prefix) && !static_ids.contains(id.as_str()))
        })
        .collect();
    if items.is_empty() && probes.is_empty() {
        rerun.note = Some(if failed.is_empty() {
            "no failures recorded: running all selected tests".into()
        } else {
            "none of last run's failures is selected: running all selected tests".into()
        });
        return rerun;
    }
    rerun.note = Some(format!(
        "rerunning the tests that failed last time ({} recorded)",
        failed.len()
    ));
    rerun.items = items;
    rerun.probes = probes;
    rerun.only = Some(failed.clone());
    rerun
}

/// Groups the tests to run by module; statically skipped tests never reach a
/// worker (and never cause an import).
fn build_plan(
    collected: &Collected,
    rerun: &Rerun,
    exact: bool,
    durations: &cache::Durations,
) -> (Plan, Vec<TestResult>) {
    let mut modules: Vec<Option<PlannedModule>> = vec![None; collected.files.len()];
    let mut skipped = Vec::new();
    let planned_module = |f: usize, run_unlisted: bool| {
        let file = &collected.files[f];
        PlannedModule {
            rel: file.rel.clone(),
            module: ModuleRef {
                path: file.path.to_string_lossy().into_owned(),
                name: file.module.clone(),
                import_root: file.import_root.to_string_lossy().into_owned(),
            },
            tests: Vec::new(),
            run_unlisted,
            first: false,
        }
    };
    for &i in &rerun.items {
        let item = &collected.items[i];
        if let Some(reason) = &item.skip {
            let mut result = TestResult::new(item.id.clone(), Outcome::Skipped, Phase::Setup);
            result.message = Some(reason.clone());
            skipped.push(result);
            continue;
        }
        let module = modules[item.file].get_or_insert_with(|| planned_module(item.file, !exact));
        module.first |= rerun.first.contains(&item.id);
        module.tests.push(PlannedTest {
            id: item.id.clone(),
            name: item.name.clone(),
            // Only classes with class-level set-up need their tests on one worker.
            group: if item.style != Style::Function && item.class_setup {
                item.class.clone()
            } else {
                None
            },
            timeout: item.timeout,
            estimate: durations.get(&item.id),
        });
    }
    for &f in &rerun.probes {
        modules[f]
            .get_or_insert_with(|| planned_module(f, true))
            .run_unlisted = true;
    }
    (
        Plan {
            modules: modules.into_iter().flatten().collect(),
        },
        skipped,
    )
}

fn execute(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
    interrupted: &dyn Fn() -> bool,
    started: Instant,
) -> Result<i32, CoordinatorError> {
    let cache_dir = settings.cache_dir.as_deref();
    let cache = cache_dir.map(|d| Cache::new(d.to_path_buf()));
    let durations = cache.as_ref().map(Cache::durations).unwrap_or_default();
    let previous_failures = cache_dir.map(state::last_failed).unwrap_or_default();
    let rerun = apply_last_failed(settings, collected, selection, &previous_failures);
    let (plan, mut early) = build_plan(collected, &rerun, selection.exact, &durations);
    early.splice(0..0, collection_error_results(collected));

    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let color = settings
        .color
        .unwrap_or_else(|| terminal && std::env::var_os("NO_COLOR").is_none());
    if let Some(note) = &rerun.note {
        if !settings.quiet {
            println!("{note}");
        }
    }
    let mut reporter = ConsoleReporter::new(
        stdout.lock(),
        ConsoleOptions {
            verbose: settings.verbose,
            quiet: settings.quiet,
            color,
            terminal,
            durations: settings.durations,
        },
    );

    if plan.modules.is_empty() && early.is_empty() {
        let elapsed = started.elapsed().as_secs_f64();
        drop(reporter);
        println!("no tests ran in {elapsed:.2}s");
        return Ok(exit::NO_TESTS);
    }

    let run_dir = tempfile::Builder::new()
        .prefix("dbtest-run-")
        .tempdir()
        .map_err(|e| {
            CoordinatorError::Internal(format!("cannot create a temporary directory: {e}"))
        })?;
    let options = RunnerOptions {
        jobs: settings.jobs,
        spawn: SpawnSpec {
            python: settings.python.clone(),
            args: SpawnSpec::worker_args(),
            cwd: settings.cwd.clone(),
            env: Vec::new(),
            stream_output: !settings.capture,
        },
        rootdir: settings.rootdir.clone(),
        run_dir: run_dir.path().to_path_buf(),
        capture: settings.capture,
        capture_passed: false,
        output_limit: OUTPUT_LIMIT,
        default_timeout: settings.timeout,
        max_failures: settings.maxfail,
        max_worker_restarts: settings.max_worker_restart,
        retries: settings.retries,
        max_tests_per_worker: settings.max_tests_per_worker,
        max_worker_rss: settings.max_worker_rss,
        longest_first: true,
    };
    // Tests found at import are admitted if selected and not already known
    // statically (those are planned, skipped or deselected on purpose).
    let criteria = &selection.criteria;
    let known: std::cell::OnceCell<HashSet<&str>> = std::cell::OnceCell::new();
    let only = rerun.only.as_ref();
    let admit = |id: &str, tags: &[String]| {
        let known = known.get_or_init(|| collected.items.iter().map(|i| i.id.as_str()).collect());
        !known.contains(id)
            && criteria.matches(id, Kind::of_test(id, tags), tags)
            && only.is_none_or(|failed| failed.contains(id))
    };

    let journal = match cache_dir.map(|d| state::Journal::start(d, plan.test_count() + early.len()))
    {
        Some(Ok(journal)) => Some(journal),
        Some(Err(err)) => {
            eprintln!(
                "dbtest: warning: cannot write the journal in {}: {err}",
                cache_dir_text(settings)
            );
            None
        }
        None => None,
    };
    let mut observer = Observers {
        console: &mut reporter,
        journal,
        early: &early,
        reported: false,
    };
    let outcome = dbtest_runner::run(plan, &options, &mut observer, &admit, interrupted);
    observer.flush();
    let journal = observer.journal.take();
    if let Some(fatal) = &outcome.fatal {
        drop(reporter);
        return Err(CoordinatorError::Internal(fatal.clone()));
    }
    let mut results = early;
    results.extend(outcome.results);
    reporter.finish(&RunSummary {
        results: &results,
        elapsed: started.elapsed(),
        not_run: outcome.not_run,
        interrupted: outcome.interrupted,
        stopped: outcome.stopped.as_deref(),
        flaky_fails: settings.flaky_fails,
    });
    drop(reporter);

    if let (Some(cache), Some(dir)) = (&cache, cache_dir) {
        let written = cache
            .record(durations, &results)
            .and_then(|()| state::record_last_failed(dir, previous_failures, &results))
            .and_then(|()| journal.map_or(Ok(()), state::Journal::finish));
        if let Err(err) = written {
            eprintln!(
                "dbtest: warning: cannot write the cache in {}: {err}",
                cache_dir_text(settings)
            );
        }
    }
    let counts = dbtest_report::Counts::of(&results);
    Ok(if outcome.interrupted {
        exit::INTERRUPTED
    } else if counts.any_failure(settings.flaky_fails) {
        exit::TESTS_FAILED
    } else if results.is_empty() && outcome.not_run == 0 {
        exit::NO_TESTS
    } else {
        exit::OK
    })
}

/// Fans run events out to the console and the journal, and reports results
/// known before any worker ran (collection errors, static skips) right after
/// the run's header.
struct Observers<'a, O: RunObserver> {
    console: &'a mut O,
    journal: Option<state::Journal>,
    early: &'a [TestResult],
    reported: bool,
}

impl<O: RunObserver> Observers<'_, O> {
    /// Reports the early results if the run never started (nothing to run).
    fn flush(&mut self) {
        if !std::mem::replace(&mut self.reported, true) {
            self.console.run_started(self.early.len(), 0);
            self.report_early();
        }
    }

    fn report_early(&mut self) {
        for result in self.early {
            self.test_finished(result);
        }
    }
}

impl<O: RunObserver> RunObserver for Observers<'_, O> {
    fn run_started(&mut self, tests: usize, workers: usize) {
        self.reported = true;
        self.console.run_started(tests + self.early.len(), workers);
        self.report_early();
    }
    fn tests_added(&mut self, count: usize) {
        self.console.tests_added(count);
    }
    fn test_finished(&mut self, result: &TestResult) {
        if let Some(journal) = &mut self.journal {
            // Flushed per result: a killed coordinator loses nothing already reported.
            if journal
                .append(result)
                .and_then(|()| journal.flush())
                .is_err()
            {
                let path = journal.path().display().to_string();
                self.journal = None;
                self.console
                    .warning(&format!("cannot append to {path}; journal disabled"));
            }
        }
        self.console.test_finished(result);
    }
    fn test_retried(&mut self, result: &TestResult) {
        self.console.test_retried(result);
    }
    fn worker_output(&mut self, slot: u32, line: &str) {
        self.console.worker_output(slot, line);
    }
    fn tick(&mut self, running: &[dbtest_runner::Running]) {
        self.console.tick(running);
    }
    fn warning(&mut self, message: &str) {
        self.console.warning(message);
    }
}

fn cache_dir_text(settings: &Settings) -> String {
    settings
        .cache_dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}
