//! `dbtest list` for the files whose tests only an import shows (loops,
//! `type()`, `load_tests`, non-literal parameters): the worker pool imports
//! them, as a run would, and reports what each defines without running
//! anything (`collect_only` batches, see `workers/PROTOCOL.md`). Files the
//! static pass sees completely are never imported.

use crate::error::CoordinatorError;
use crate::pipeline::{Collected, Selection};
use dbtest_config::Settings;
use dbtest_model::{Kind, Phase, RunObserver};
use dbtest_protocol::Discovered;
use dbtest_runner::{Plan, RunnerOptions, SpawnSpec};
use std::collections::{HashMap, HashSet};

/// One listed test, in the order a run reports it.
pub(crate) enum Listed {
    /// A test the static pass found (index into `Collected::items`).
    Static(usize),
    /// A test only the import of file `file` showed.
    Imported {
        file: usize,
        name: String,
        tags: Vec<String>,
    },
}

/// A selected file that could not be imported: pytest's "ERROR collecting".
pub(crate) struct ImportFailure {
    pub rel: String,
    pub message: String,
    pub traceback: Option<String>,
}

pub(crate) struct Listing {
    pub tests: Vec<Listed>,
    pub failures: Vec<ImportFailure>,
    /// Ctrl-C stopped the imports: the listing is incomplete.
    pub interrupted: bool,
}

impl Listing {
    /// The static selection as it is, nothing imported (`--static`, or no
    /// file needs an import).
    pub(crate) fn static_only(selection: &Selection) -> Listing {
        Listing {
            tests: selection.items.iter().map(|&i| Listed::Static(i)).collect(),
            failures: Vec::new(),
            interrupted: false,
        }
    }
}

/// Files among the selected ones that may define tests only an import reveals,
/// in collection order.
pub(crate) fn files_to_import(collected: &Collected, selection: &Selection) -> Vec<usize> {
    if selection.exact {
        return Vec::new(); // a node id named the test: nothing more is looked for
    }
    let mut files: Vec<usize> = selection
        .items
        .iter()
        .map(|&i| collected.items[i].file)
        .chain(selection.probes.iter().copied())
        .filter(|&f| collected.dynamic.get(f).copied().unwrap_or(false))
        .collect();
    files.sort_unstable();
    files.dedup();
    files
}

/// Lists the selection with what importing `files` shows: each imported
/// file's tests in its own (pytest's) order, filtered as a run filters the
/// tests it finds at import (selection, shard).
pub(crate) fn list_with_imports(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
    files: &[usize],
    interrupted: &dyn Fn() -> bool,
) -> Result<Listing, CoordinatorError> {
    let plan = Plan {
        modules: files
            .iter()
            .map(|&f| crate::plan::planned_module(collected, f, true))
            .collect(),
    };
    let preload =
        crate::pytest::preload(settings, &collected.files, &collected.imports_pytest, &plan);
    let basetemp = crate::pytest::BaseTemp::claim(&std::env::temp_dir());
    let run_dir = tempfile::Builder::new()
        .prefix(&format!("dbtest-run-{}-", std::process::id()))
        .tempdir()
        .map_err(|e| {
            CoordinatorError::Internal(format!("cannot create a temporary directory: {e}"))
        })?;
    let options = RunnerOptions {
        jobs: settings.jobs.min(files.len()).max(1),
        spawn: SpawnSpec {
            python: settings.python.clone(),
            args: SpawnSpec::worker_args(),
            cwd: settings.cwd.clone(),
            env: Vec::new(),
            stream_output: false,
            fork_server: cfg!(target_os = "linux"),
        },
        rootdir: settings.rootdir.clone(),
        run_dir: run_dir.path().to_path_buf(),
        cache_dir: settings.cache_dir.clone(),
        // What a module prints while imported is not part of the list.
        capture: true,
        pytest: crate::pytest::worker_options(settings, &basetemp),
        preload,
        output_limit: 64 * 1024,
        // An import is bounded as a test is.
        default_timeout: settings.timeout,
        max_failures: None,
        max_worker_restarts: settings.max_worker_restart,
        retries: 0,
        max_tests_per_worker: None,
        max_worker_rss: settings.max_worker_rss,
        longest_first: false,
        shuffle: None,
        import_all: false,
        rerun_alone: 0,
        epoch: std::time::Instant::now(),
        coverage: None,
        time_budget: None,
        planned_order: false,
        collect_only: true,
    };
    let mut observer = Warnings;
    let nothing_else = |_: &str, _: &[String]| false;
    let outcome = dbtest_runner::run(
        plan,
        &options,
        None,
        &mut observer,
        &nothing_else,
        interrupted,
    );
    if let Some(fatal) = outcome.fatal {
        return Err(CoordinatorError::Internal(fatal));
    }
    let mut failures: Vec<ImportFailure> = Vec::new();
    for mut result in outcome.results {
        let rel = result
            .id
            .split_once("::")
            .map_or(result.id.as_str(), |(rel, _)| rel)
            .to_string();
        let detail = result.take_detail();
        let message = match (result.phase, detail.message) {
            (Phase::Import, Some(message)) => message,
            // A worker that died or hung while importing the module.
            (_, message) => message.unwrap_or_else(|| "the worker ended while importing it".into()),
        };
        failures.push(ImportFailure {
            rel,
            message,
            traceback: detail.traceback,
        });
    }
    let imported: HashMap<&str, Vec<Discovered>> = outcome
        .collected
        .into_iter()
        .filter_map(|m| {
            let f = files.iter().find(|&&f| collected.files[f].rel == m.rel)?;
            Some((collected.files[*f].rel.as_str(), m.tests))
        })
        .collect();
    let failed: HashSet<&str> = failures.iter().map(|f| f.rel.as_str()).collect();
    Ok(Listing {
        tests: merge(
            collected,
            selection,
            files,
            &imported,
            &failed,
            &|id, tags| admitted(selection, id, tags),
        ),
        failures,
        interrupted: outcome.interrupted,
    })
}

/// Whether a test found at import belongs to this listing: as a run decides
/// (`execute`'s filter: the selection, then the shard that owns it).
fn admitted(selection: &Selection, id: &str, tags: &[String]) -> bool {
    selection
        .criteria
        .matches(id, Kind::of_test(id, tags), tags)
        && selection
            .owners
            .as_ref()
            .is_none_or(|owners| owners.owns_unlisted(id))
}

/// The listing in collection order: a file not imported keeps its static
/// selection; an imported one is listed in its own order, its static names
/// as the selection has them, the others as `admit` decides; one that failed
/// to import lists nothing (as under pytest).
fn merge(
    collected: &Collected,
    selection: &Selection,
    files: &[usize],
    imported: &HashMap<&str, Vec<Discovered>>,
    failed: &HashSet<&str>,
    admit: &dyn Fn(&str, &[String]) -> bool,
) -> Vec<Listed> {
    let mut selected_by_file: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in &selection.items {
        selected_by_file
            .entry(collected.items[i].file)
            .or_default()
            .push(i);
    }
    let mut order: Vec<usize> = selected_by_file
        .keys()
        .copied()
        .chain(files.iter().copied())
        .collect();
    order.sort_unstable();
    order.dedup();
    let empty = Vec::new();
    let mut listed = Vec::with_capacity(selection.items.len());
    for f in order {
        let selected = selected_by_file.get(&f).unwrap_or(&empty);
        let rel = collected.files[f].rel.as_str();
        if failed.contains(rel) {
            continue;
        }
        let Some(found) = imported.get(rel) else {
            listed.extend(selected.iter().map(|&i| Listed::Static(i)));
            continue;
        };
        let static_names: HashSet<&str> = collected
            .items
            .iter()
            .filter(|item| item.file == f)
            .map(|item| item.name())
            .collect();
        let by_name: HashMap<&str, usize> = selected
            .iter()
            .map(|&i| (collected.items[i].name(), i))
            .collect();
        for test in found {
            if let Some(&i) = by_name.get(test.name.as_str()) {
                listed.push(Listed::Static(i));
            } else if !static_names.contains(test.name.as_str())
                && admit(&format!("{rel}::{}", test.name), &test.tags)
            {
                listed.push(Listed::Imported {
                    file: f,
                    name: test.name.clone(),
                    tags: test.tags.clone(),
                });
            }
        }
    }
    listed
}

/// Worker warnings go to stderr; nothing else of the pool is shown.
struct Warnings;

impl RunObserver for Warnings {
    fn warning(&mut self, message: &str) {
        eprintln!("dbtest: warning: {message}");
    }
}
