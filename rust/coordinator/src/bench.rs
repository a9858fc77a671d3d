//! `dbtest bench`: the selected benchmarks measured in the exclusive lane
//! (`dbtest-bench`: no test runs, no worker but the one benchmark process),
//! then the comparison table, the reports, the saved run and the gate.

use crate::error::CoordinatorError;
use crate::exit;
use crate::pipeline::{Collected, Selection};
use dbtest_bench::analysis::Settings as AnalysisSettings;
use dbtest_bench::{baseline, BenchTarget, LaneSpec, MeasureOptions, MemberRun, Progress};
use dbtest_config::Settings;
use dbtest_model::Kind;
use dbtest_protocol::ModuleRef;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Live progress on stderr: one line per member as it finishes, and on a
/// terminal the member in progress (calibrating, warming up, round k).
struct Console {
    live: bool,
}

impl Console {
    fn status(&mut self, text: &str) {
        if self.live {
            eprint!("\r\x1b[K{text}");
            let _ = std::io::stderr().flush();
        }
    }
}

impl Progress for Console {
    fn phase(&mut self, id: &str, phase: &str) {
        self.status(&format!("{id}: {phase}"));
    }

    fn round(&mut self, id: &str, done: usize, rel_ci: Option<f64>) {
        let precision = rel_ci.map_or(String::new(), |r| format!(" (median ±{:.1}%)", r * 100.0));
        self.status(&format!("{id}: round {done}{precision}"));
    }

    fn finished(&mut self, member: &MemberRun) {
        self.status("");
        match &member.error {
            Some(e) => eprintln!(
                "{} ... error while {}",
                member.id,
                e.phase.replace('_', " ")
            ),
            None => eprintln!(
                "{} ... {} rounds ({})",
                member.id,
                member.round_times.len(),
                member.stopped
            ),
        }
    }
}

fn targets(collected: &Collected, selection: &Selection) -> Vec<BenchTarget> {
    selection
        .items
        .iter()
        .map(|&i| &collected.items[i])
        .filter(|item| item.kind == Kind::Benchmark)
        .map(|item| {
            let file = &collected.files[item.file];
            BenchTarget {
                id: item.id.to_string(),
                file: file.rel.clone(),
                group: item.class().unwrap_or_default().to_string(),
                name: item.name().to_string(),
                module: ModuleRef {
                    path: file.path.display().to_string(),
                    name: file.module.clone(),
                    import_root: file.import_root.display().to_string(),
                },
            }
        })
        .collect()
}

fn git_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn write_report(path: &Path, text: &str) -> Result<(), CoordinatorError> {
    std::fs::write(path, text)
        .map_err(|e| CoordinatorError::Usage(format!("cannot write {}: {e}", path.display())))
}

pub(crate) fn bench(
    settings: &Settings,
    collected: Collected,
    selection: &Selection,
    interrupted: &dyn Fn() -> bool,
) -> Result<i32, CoordinatorError> {
    let options = &settings.bench;
    let usage = |e: dbtest_bench::BenchError| CoordinatorError::Usage(e.to_string());
    let cache_dir = settings.cache_dir.clone();
    let needs_cache = |what: &str| {
        cache_dir.clone().ok_or_else(|| {
            CoordinatorError::Usage(format!("{what} needs the cache directory (not --no-cache)"))
        })
    };
    // Bad input is found before anything is measured.
    if let Some(name) = &options.save {
        baseline::check_name(name).map_err(usage)?;
        needs_cache("--save")?;
    }
    let saved = match &options.compare {
        Some(name) => Some((
            name.clone(),
            baseline::load(&needs_cache("--compare")?, name).map_err(usage)?,
        )),
        None => None,
    };
    let targets = targets(&collected, selection);
    let fixture_tests: Vec<usize> = selection
        .items
        .iter()
        .copied()
        .filter(|&i| {
            collected.items[i].kind != Kind::Benchmark && collected.items[i].uses_benchmark
        })
        .collect();
    if targets.is_empty() && fixture_tests.is_empty() {
        println!("no benchmarks selected");
        return Ok(exit::NO_TESTS);
    }
    let measure = MeasureOptions {
        budget: Duration::try_from_secs_f64(options.time).unwrap_or(Duration::MAX),
        round_timeout: settings
            .timeout
            .and_then(|t| Duration::try_from_secs_f64(t).ok()),
        ..MeasureOptions::default()
    };
    let mut console = Console {
        live: std::io::stderr().is_terminal(),
    };
    eprintln!(
        "dbtest bench: {} benchmark{} in one exclusive lane (no other workers)",
        targets.len() + fixture_tests.len(),
        if targets.len() + fixture_tests.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    let spec = LaneSpec::new(settings.python.clone(), settings.cwd.clone());
    let mut run = if targets.is_empty() {
        dbtest_bench::BenchRun {
            lane: None,
            members: Vec::new(),
            interrupted: false,
        }
    } else {
        dbtest_bench::measure(spec, &targets, &measure, &mut console, interrupted)
            .map_err(|e| CoordinatorError::Internal(e.to_string()))?
    };
    let mut tests_failed = false;
    if !fixture_tests.is_empty() && !run.interrupted {
        let (members, code) =
            fixture_benchmarks(settings, collected, selection, fixture_tests, interrupted)?;
        run.members.extend(members);
        run.interrupted |= code == exit::INTERRUPTED;
        tests_failed = code != exit::OK;
    }
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let analysis = dbtest_bench::analyze(
        &run,
        AnalysisSettings {
            precision: measure.precision,
            budget_seconds: options.time,
            min_rounds: measure.min_rounds,
            warmup_rounds: measure.warmup_rounds,
            fail_on_regression: options.fail_on_regression,
        },
        saved.as_ref().map(|(name, a)| (name.as_str(), a)),
        git_commit(&settings.rootdir),
        created,
    );
    // `--format json|markdown`: that document on stdout, the table on stderr.
    let table = dbtest_bench::report::console(&analysis);
    match settings.format {
        dbtest_config::Format::Json => {
            eprint!("{table}");
            println!("{}", analysis.to_json());
        }
        dbtest_config::Format::Markdown => {
            eprint!("{table}");
            print!("{}", dbtest_bench::report::markdown(&analysis));
        }
        _ => print!("{table}"),
    }
    if let Some(path) = &settings.json_report {
        write_report(path, &analysis.to_json())?;
    }
    if let Some(path) = &settings.markdown_report {
        write_report(path, &dbtest_bench::report::markdown(&analysis))?;
    }
    if let Some(name) = &options.save {
        if !run.interrupted {
            let path = baseline::save(&needs_cache("--save")?, name, &analysis).map_err(usage)?;
            eprintln!("dbtest bench: saved as {name:?} ({})", path.display());
        }
    }
    let measured = analysis.members().filter(|m| m.stats.is_some()).count();
    let errors = analysis.errors();
    let regressions = analysis.regressions();
    let summary_to_stderr = settings.format != dbtest_config::Format::Console;
    let summary = format!(
        "\n{measured} measured, {errors} failed{}{}",
        match options.fail_on_regression {
            Some(pct) => format!(", {regressions} regressed beyond {pct}%"),
            None => String::new(),
        },
        if run.interrupted {
            " (interrupted: the rest not measured)"
        } else {
            ""
        }
    );
    if summary_to_stderr {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    Ok(if run.interrupted {
        exit::INTERRUPTED
    } else if errors > 0 || regressions > 0 || tests_failed {
        exit::TESTS_FAILED
    } else {
        exit::OK
    })
}

/// The tests that take pytest-benchmark's `benchmark` fixture, run on one
/// worker (after the lane: still nothing else running) with the fixture in
/// measuring mode; their raw round times come back as files.
fn fixture_benchmarks(
    settings: &Settings,
    collected: Collected,
    selection: &Selection,
    items: Vec<usize>,
    interrupted: &dyn Fn() -> bool,
) -> Result<(Vec<MemberRun>, i32), CoordinatorError> {
    let dir = tempfile::tempdir()
        .map_err(|e| CoordinatorError::Internal(format!("no temporary directory: {e}")))?;
    let mut sub = settings.clone();
    sub.command = dbtest_config::Command::Run;
    sub.jobs = 1;
    sub.quiet = true;
    sub.verbose = 0;
    sub.retries = 0;
    sub.last_failed = false;
    sub.failed_first = false;
    sub.shuffle = None;
    sub.json_report = None;
    sub.markdown_report = None;
    sub.junit_xml = None;
    sub.format = dbtest_config::Format::Console;
    let sub_selection = Selection {
        criteria: selection.criteria.clone(),
        items,
        probes: Vec::new(),
        exact: true,
        owners: None,
        whole: selection.whole,
        changed: None,
    };
    // The workers inherit these (the fixture reads them).
    std::env::set_var("DBTEST_BENCH_DIR", dir.path());
    std::env::set_var("DBTEST_BENCH_TIME", settings.bench.time.to_string());
    eprintln!("dbtest bench: tests using the `benchmark` fixture, on one worker");
    // A report document on stdout (`--format json`): the test run's console
    // goes to stderr meanwhile.
    let _ = std::io::stdout().flush();
    let stdout_saved = (settings.format != dbtest_config::Format::Console)
        // SAFETY: duplicating and replacing this process's standard descriptors.
        .then(|| unsafe {
            let saved = libc::dup(1);
            if saved >= 0 {
                libc::dup2(2, 1);
            }
            saved
        })
        .filter(|fd| *fd >= 0);
    let code = crate::execute::execute(
        &sub,
        collected,
        &sub_selection,
        crate::cache::DurationIndex::default(),
        crate::execute::Workers::Fresh(None),
        interrupted,
        Instant::now(),
    );
    if let Some(saved) = stdout_saved {
        let _ = std::io::stdout().flush();
        // SAFETY: putting back the descriptor saved above.
        unsafe {
            libc::dup2(saved, 1);
            libc::close(saved);
        }
    }
    std::env::remove_var("DBTEST_BENCH_DIR");
    std::env::remove_var("DBTEST_BENCH_TIME");
    let code = code?;
    let mut members = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir.path())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let id = doc["id"].as_str().unwrap_or_default().to_string();
        let (file, name) = id.split_once("::").unwrap_or((id.as_str(), ""));
        let group = doc["group"]
            .as_str()
            .unwrap_or("benchmark fixture")
            .to_string();
        members.push(MemberRun {
            id: id.clone(),
            file: file.to_string(),
            group,
            member: name.to_string(),
            baseline: None,
            iterations: doc["iterations"].as_u64().unwrap_or(1),
            warmups: 0,
            round_times: doc["round_times"]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                .unwrap_or_default(),
            gc_collections: 0,
            stopped: "fixture".into(),
            error: None,
            extra_info: doc.get("extra_info").cloned().filter(|v| !v.is_null()),
        });
    }
    members.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((members, code))
}
