//! `dbtest` (run): plan, run on the worker pool, report, remember.

use crate::cache::{Cache, DurationIndex};
use crate::ci::{bazel_test_env, process_env};
use crate::error::CoordinatorError;
use crate::exit;
use crate::pipeline::{Collected, Selection};
use crate::plan::{
    apply_last_failed, build_plan, collection_error_results, order_for_feedback, Rerun,
};
use crate::reports::{build_report, ReportFiles, RunFacts};
use crate::state;
use dbtest_config::Settings;
use dbtest_model::{Kind, TestResult};
use dbtest_report::{ConsoleOptions, ConsoleReporter, PlanInfo, RunSummary};
use dbtest_runner::{ForkServer, RunObserver, RunnerOptions, SpawnSpec};
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::time::{Instant, SystemTime};

/// A run's private temporary directory is `dbtest-run-<pid>-<random>`.
const RUN_DIR_PREFIX: &str = "dbtest-run-";

/// Removes the run directories of dbtest processes that no longer exist (a
/// coordinator killed with SIGKILL cannot remove its own).
fn remove_abandoned_run_dirs(temp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(RUN_DIR_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let gone = pid > 0
            && unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Captured output kept per stream and test.
const OUTPUT_LIMIT: u32 = 1024 * 1024;

/// What `--watch` keeps from one run to the next: the workers (see
/// `dbtest_runner::KeptWorkers`), and what their `config` names, which must
/// stay valid while they live: the run directory and the base temporary
/// directory.
pub(crate) struct Kept {
    pub(crate) workers: dbtest_runner::KeptWorkers,
    run_dir: tempfile::TempDir,
    basetemp: crate::pytest::BaseTemp,
}

impl Kept {
    pub(crate) fn new(fork_server: Option<ForkServer>) -> Result<Kept, CoordinatorError> {
        Ok(Kept {
            workers: dbtest_runner::KeptWorkers::new(fork_server),
            run_dir: new_run_dir()?,
            basetemp: crate::pytest::BaseTemp::claim(&std::env::temp_dir()),
        })
    }
}

/// Where a run's workers come from.
pub(crate) enum Workers<'a> {
    /// Started for this run (by this fork server, if one was started already).
    Fresh(Option<ForkServer>),
    /// Kept from the previous run and kept for the next (`--watch`).
    Kept(&'a mut Kept),
}

fn new_run_dir() -> Result<tempfile::TempDir, CoordinatorError> {
    tempfile::Builder::new()
        .prefix(&format!("{RUN_DIR_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(|e| {
            CoordinatorError::Internal(format!("cannot create a temporary directory: {e}"))
        })
}

pub(crate) fn execute(
    settings: &Settings,
    collected: Collected,
    selection: &Selection,
    durations: DurationIndex,
    workers: Workers,
    interrupted: &dyn Fn() -> bool,
    started: Instant,
) -> Result<i32, CoordinatorError> {
    let started_at = SystemTime::now() - started.elapsed();
    let bazel = bazel_test_env(&process_env);
    if let (Some(bazel), Some(_)) = (&bazel, selection.shard()) {
        bazel.touch_shard_status_file().map_err(|e| {
            CoordinatorError::Usage(format!("cannot touch TEST_SHARD_STATUS_FILE: {e}"))
        })?;
    }
    let report_files = ReportFiles::open(settings, bazel.as_ref())?;
    let cache_dir = settings.cache_dir.as_deref();
    let cache = cache_dir.map(|d| Cache::new(d.to_path_buf()));
    let previous_failures = cache_dir.map(state::last_failed).unwrap_or_default();
    let rerun = apply_last_failed(settings, &collected, selection, &previous_failures);
    let (mut plan, mut early) = build_plan(&collected, &rerun, &durations);
    if selection.changed.is_some() {
        order_for_feedback(&mut plan, &previous_failures);
    }
    let changed_line = selection
        .changed
        .as_ref()
        .map(|t| t.summary(crate::list::selected_files(&collected, selection)));
    let mut collection_errors = collection_error_results(&collected);
    // Every shard collects every file; a file's collection error is reported
    // once, by the shard that owns the file, or merged reports would hold it
    // twice.
    if let Some(owners) = &selection.owners {
        collection_errors.retain(|error| owners.owns_file(&error.id));
    }
    early.splice(0..0, collection_errors);
    let mut plan_info = planned_tests(&collected, selection, &rerun, &report_files);
    // From here on the plan says what runs. The static list is dropped and the
    // durations are read again at the end: memory per test stays close to the
    // result record.
    crate::memory_note("plan built");
    let preload =
        crate::pytest::preload(settings, &collected.files, &collected.imports_pytest, &plan);
    drop(collected);
    drop(durations);
    release_freed_memory();

    // With a report document on stdout, the console goes to stderr.
    let (console_out, terminal): (Box<dyn Write>, bool) = if report_files.on_stdout() {
        (Box::new(std::io::stderr()), std::io::stderr().is_terminal())
    } else {
        (Box::new(std::io::stdout()), std::io::stdout().is_terminal())
    };
    let color = settings
        .color
        .unwrap_or_else(|| terminal && std::env::var_os("NO_COLOR").is_none());
    if let Some(note) = &rerun.note {
        if !settings.quiet {
            let _ = writeln!(std::io::stdout(), "{note}");
        }
    }
    if let Some(line) = &changed_line {
        if !settings.quiet {
            let _ = if report_files.on_stdout() {
                writeln!(std::io::stderr(), "{line}")
            } else {
                writeln!(std::io::stdout(), "{line}")
            };
        }
    }
    if let Some(seed) = settings.shuffle {
        // Printed even with -q: a failure that depends on the order needs it.
        let line = format!("shuffled with seed {seed} (`--seed {seed}` repeats this order)");
        let _ = if report_files.on_stdout() {
            writeln!(std::io::stderr(), "{line}")
        } else {
            writeln!(std::io::stdout(), "{line}")
        };
    }
    let mut reporter = ConsoleReporter::new(
        console_out,
        ConsoleOptions {
            verbose: settings.verbose,
            quiet: settings.quiet,
            color,
            terminal,
            durations: settings.durations,
        },
    );

    // A shard of a non-empty selection may get nothing: normal in a CI
    // matrix, so it passes (and writes its reports, which `merge` needs).
    let empty_shard = selection.shard().is_some() && !selection.whole.is_empty();
    if plan.modules.is_empty() && early.is_empty() {
        let elapsed = started.elapsed();
        drop(reporter);
        let nothing_affected = crate::list::nothing_affected(selection);
        let line = match selection.shard() {
            _ if nothing_affected => format!(
                "no tests ran in {:.2}s (the changes reach no test)",
                elapsed.as_secs_f64(),
            ),
            Some(spec) if empty_shard => format!(
                "no tests ran in {:.2}s (shard {spec} got none of the selection)",
                elapsed.as_secs_f64()
            ),
            _ => format!("no tests ran in {:.2}s", elapsed.as_secs_f64()),
        };
        let _ = if report_files.on_stdout() {
            writeln!(std::io::stderr(), "{line}")
        } else {
            writeln!(std::io::stdout(), "{line}")
        };
        if report_files.wanted() {
            let facts = RunFacts {
                started_at,
                elapsed,
                workers: 0,
                shard: selection.shard(),
                interrupted: false,
                not_run: 0,
                stopped: None,
                python: settings.python_version.clone(),
                plan: plan_info,
            };
            report_files.write(&build_report(facts, settings, &[], &[]));
        }
        return Ok(if empty_shard || nothing_affected {
            exit::OK
        } else {
            exit::NO_TESTS
        });
    }

    // Off the start-up path: the temporary directory may hold many entries.
    let cleanup = std::thread::Builder::new()
        .name("dbtest-cleanup".into())
        .spawn(|| remove_abandoned_run_dirs(&std::env::temp_dir()));
    // Kept workers (`--watch`) were configured with the watch's directories.
    let (own_basetemp, own_run_dir);
    let (basetemp, run_dir, fork_server, kept_workers) = match workers {
        Workers::Kept(Kept {
            workers,
            run_dir,
            basetemp,
        }) => (&*basetemp, run_dir.path(), None, Some(workers)),
        Workers::Fresh(fork_server) => {
            own_basetemp = crate::pytest::BaseTemp::claim(&std::env::temp_dir());
            own_run_dir = new_run_dir()?;
            (&own_basetemp, own_run_dir.path(), fork_server, None)
        }
    };
    crate::coverage::check_available(settings).map_err(CoordinatorError::Usage)?;
    let coverage =
        crate::coverage::worker_options(settings, run_dir).map_err(CoordinatorError::Internal)?;
    let options = RunnerOptions {
        jobs: settings.jobs,
        spawn: SpawnSpec {
            python: settings.python.clone(),
            args: SpawnSpec::worker_args(),
            cwd: settings.cwd.clone(),
            env: Vec::new(),
            stream_output: !settings.capture,
            // Built and tested on Linux (the fork server uses pipe2 and prctl).
            fork_server: cfg!(target_os = "linux"),
        },
        rootdir: settings.rootdir.clone(),
        run_dir: run_dir.to_path_buf(),
        cache_dir: settings.cache_dir.clone(),
        capture: settings.capture,
        pytest: crate::pytest::worker_options(settings, basetemp),
        preload,
        output_limit: OUTPUT_LIMIT,
        default_timeout: settings.timeout,
        max_failures: settings.maxfail,
        max_worker_restarts: settings.max_worker_restart,
        retries: settings.retries,
        max_tests_per_worker: settings.max_tests_per_worker,
        max_worker_rss: settings.max_worker_rss,
        // `--changed` has its own order (failures, then shortest first).
        longest_first: selection.changed.is_none(),
        shuffle: settings.shuffle,
        import_all: settings.import_all,
        rerun_alone: settings.rerun_alone,
        coverage,
        epoch: started,
        time_budget: crate::budget::time_budget(settings, started),
        planned_order: selection.changed.is_some(),
        collect_only: false,
    };
    // Tests found at import are admitted if selected. Workers report only tests
    // the static pass missed (they are told every static name of the module).
    let criteria = &selection.criteria;
    let only = rerun.only.as_ref();
    // Selected tests found here that another shard runs, for the report.
    let elsewhere: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let record_elsewhere = plan_info.is_some();
    let admit = |id: &str, tags: &[String]| {
        // A module that failed to import before any test of it was known is
        // reported under its path alone, whatever selects tests: pytest shows
        // collection errors whatever `-k` or `--lf` say.
        let module_error = !id.contains("::");
        let selected = module_error
            || (criteria.matches(id, Kind::of_test(id, tags), tags)
                && only.is_none_or(|failed| failed.contains(id)));
        // Tests only an import reveals belong to exactly one shard (the rule is
        // `ShardOwners`'), which imports their module too.
        match &selection.owners {
            Some(owners) if selected && !owners.owns_unlisted(id) => {
                if record_elsewhere {
                    elsewhere.borrow_mut().push(id.to_string());
                }
                false
            }
            _ => selected,
        }
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
        retried: Vec::new(),
    };
    let outcome = match kept_workers {
        Some(workers) => {
            dbtest_runner::run_keeping(plan, &options, workers, &mut observer, &admit, interrupted)
        }
        None => dbtest_runner::run(
            plan,
            &options,
            fork_server,
            &mut observer,
            &admit,
            interrupted,
        ),
    };
    crate::memory_note("run ended");
    if let Ok(cleanup) = cleanup {
        let _ = cleanup.join();
    }
    observer.flush();
    let journal = observer.journal.take();
    let retried = std::mem::take(&mut observer.retried);
    if let Some(fatal) = &outcome.fatal {
        drop(reporter);
        return Err(CoordinatorError::Internal(fatal.clone()));
    }
    // Appending the few early results avoids copying the many others.
    let mut results = outcome.results;
    results.append(&mut early);
    // Every worker has ended (and saved what it measured).
    let coverage = if outcome.interrupted {
        None
    } else {
        match crate::coverage::combine_and_report(settings, run_dir) {
            Ok(coverage) => coverage,
            Err(err) => {
                eprintln!("dbtest: warning: {err}");
                // Without a total, a required minimum is not reached.
                let required = settings
                    .coverage
                    .as_ref()
                    .is_some_and(|c| c.fail_under.is_some());
                required.then(|| crate::coverage::CoverageOutcome {
                    text: String::new(),
                    below_minimum: true,
                })
            }
        }
    };
    crate::budget::report_unrun(&outcome.unrun, settings, report_files.on_stdout());
    reporter.finish(&RunSummary {
        section: coverage
            .as_ref()
            .map(|c| c.text.as_str())
            .filter(|t| !t.is_empty()),
        results: &results,
        elapsed: started.elapsed(),
        not_run: outcome.not_run,
        interrupted: outcome.interrupted,
        stopped: outcome.stopped.as_deref(),
        flaky_fails: settings.flaky_fails,
    });
    drop(reporter);

    if let (Some(cache), Some(dir)) = (&cache, cache_dir) {
        // A shard leaves the durations file alone: every shard of a matrix must
        // partition with the same file (`dbtest merge --durations` makes the next one).
        let durations_written = match selection.shard() {
            Some(_) => Ok(()),
            None => cache.record(&results),
        };
        let written = durations_written
            .and_then(|()| state::record_last_failed(dir, previous_failures, &results))
            .and_then(|()| journal.map_or(Ok(()), state::Journal::finish));
        if let Err(err) = written {
            eprintln!(
                "dbtest: warning: cannot write the cache in {}: {err}",
                cache_dir_text(settings)
            );
        }
    }
    // The report document copies every result: only build it when asked for.
    if report_files.wanted() {
        if let Some(plan) = &mut plan_info {
            let mut elsewhere = elsewhere.into_inner();
            // A module imported again (a retried batch) reports its tests again.
            elsewhere.sort_unstable();
            elsewhere.dedup();
            plan.elsewhere = elsewhere;
            let mut withdrawn = outcome.withdrawn.clone();
            withdrawn.sort_unstable();
            plan.withdrawn = withdrawn;
        }
        let report = build_report(
            RunFacts {
                started_at,
                elapsed: started.elapsed(),
                workers: outcome.workers,
                shard: selection.shard(),
                interrupted: outcome.interrupted,
                not_run: outcome.not_run,
                stopped: outcome.stopped.clone(),
                // The workers' own word, else the shim's (no worker started:
                // everything skipped statically, an empty shard).
                python: outcome
                    .python
                    .clone()
                    .or_else(|| settings.python_version.clone()),
                plan: plan_info,
            },
            settings,
            &retried,
            &results,
        );
        report_files.write(&report);
    }
    crate::memory_note("cache written");
    let counts = dbtest_report::Counts::of(&results);
    Ok(if outcome.interrupted {
        exit::INTERRUPTED
    } else if counts.any_failure(settings.flaky_fails)
        || coverage.is_some_and(|c| c.below_minimum)
        || (settings.changed.budget_strict && !outcome.unrun.is_empty())
    {
        exit::TESTS_FAILED
    } else if results.is_empty() && outcome.not_run == 0 && !empty_shard {
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
    /// Failing attempts of retried tests, for the reports.
    retried: Vec<TestResult>,
}

impl<O: RunObserver> Observers<'_, O> {
    /// Reports the early results if the run never started (nothing to run).
    fn flush(&mut self) {
        if !std::mem::replace(&mut self.reported, true) {
            self.console.run_started(self.early.len(), 0);
            self.report_early();
        }
    }

    fn journal_failed(&mut self) {
        if let Some(journal) = self.journal.take() {
            let path = journal.path().display().to_string();
            self.console
                .warning(&format!("cannot append to {path}; journal disabled"));
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
    fn test_withdrawn(&mut self, id: &str) {
        self.console.test_withdrawn(id);
    }
    fn test_finished(&mut self, result: &TestResult) {
        if let Some(journal) = &mut self.journal {
            if journal.append(result).is_err() {
                self.journal_failed();
            }
        }
        self.console.test_finished(result);
    }
    fn caught_up(&mut self) {
        // Flushed whenever the dispatcher has handled every result that arrived:
        // a coordinator killed while waiting loses nothing already reported, and
        // a burst of results costs one write.
        if let Some(journal) = &mut self.journal {
            if journal.flush().is_err() {
                self.journal_failed();
            }
        }
    }
    fn test_retried(&mut self, result: &TestResult) {
        self.retried.push(result.clone());
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

/// What the report records of the plan, for `dbtest merge`: the whole
/// selection and the static tests this run set out to run. `None` when no
/// report is wanted, and for an `--lf` rerun, which runs a part of the
/// selection that only this machine's cache knows.
fn planned_tests(
    collected: &Collected,
    selection: &Selection,
    rerun: &Rerun,
    report_files: &ReportFiles,
) -> Option<PlanInfo> {
    (report_files.wanted() && rerun.only.is_none()).then(|| PlanInfo {
        selected: selection.whole.tests as u64,
        selection_digest: PlanInfo::digest_text(selection.whole.digest),
        planned: rerun
            .items
            .iter()
            .map(|&i| collected.items[i].id.to_string())
            .collect(),
        elsewhere: Vec::new(),
        withdrawn: Vec::new(),
    })
}

fn cache_dir_text(settings: &Settings) -> String {
    settings
        .cache_dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

/// Returns the memory freed so far to the system at once. mimalloc keeps freed
/// pages a few milliseconds before it does; the run's table and units, built
/// next, would then stack on the collection's freed items and make the run's
/// peak (a few MB per 10,000 tests: docs/benchmarks.md, coordinator memory).
fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointer and may be called at any time;
    // where mimalloc is not the allocator it has nothing to collect.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
