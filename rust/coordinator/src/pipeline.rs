//! From the command line to a list of selected tests: targets, discovery,
//! static collection, selection. Nothing here imports Python code.

use crate::cache::DurationIndex;
use crate::error::CoordinatorError;
use dbtest_collect::CollectError;
use dbtest_config::{normalize, Settings};
use dbtest_discovery::{discover_each, relative_id_path, DiscoveryOptions};
use dbtest_model::{Kind, TestFile, TestItem};
use dbtest_select::{
    shard_items, Criteria, Expression, NodeId, ShardMode, ShardRequest, ShardSpec,
};
use std::path::PathBuf;

/// Up to this many files given by name are collected on the calling thread.
const FEW_FILES: usize = 4;

pub struct Collected {
    pub files: Vec<TestFile>,
    /// Per file: may define tests the static pass cannot see.
    pub dynamic: Vec<bool>,
    pub items: Vec<TestItem>,
    pub errors: Vec<CollectError>,
}

pub struct Selection {
    pub criteria: Criteria,
    /// Indices into `Collected::items`, in collection order.
    pub items: Vec<usize>,
    /// Files with no selected static items that must still be imported to find
    /// tests the static pass could not see.
    pub probes: Vec<usize>,
    /// Node ids named a test: run exactly that, do not look for more.
    pub exact: bool,
    /// The shard this run is (`--shard`), if any.
    pub shard: Option<ShardSpec>,
}

/// Command-line paths split into walk roots and node ids.
pub struct Targets {
    roots: Vec<PathBuf>,
    node_ids: Vec<NodeId>,
    exact: bool,
}

fn targets(settings: &Settings) -> Result<Targets, CoordinatorError> {
    let args: Vec<String> = if settings.paths.is_empty() {
        vec![settings.cwd.to_string_lossy().into_owned()]
    } else {
        settings.paths.clone()
    };
    let mut roots = Vec::new();
    let mut node_ids = Vec::new();
    let mut exact = false;
    for arg in &args {
        let (path_part, name) = match arg.split_once("::") {
            Some((path, name)) if !name.is_empty() => (path, Some(name.to_string())),
            Some((path, _)) => (path, None),
            None => (arg.as_str(), None),
        };
        let path = normalize(&settings.cwd.join(path_part));
        if !path.exists() {
            return Err(CoordinatorError::Usage(format!(
                "path does not exist: {path_part}"
            )));
        }
        if name.is_some() && !path.is_file() {
            return Err(CoordinatorError::Usage(format!(
                "not a file: {path_part} (in node id {arg})"
            )));
        }
        exact |= name.is_some();
        node_ids.push(NodeId {
            rel: relative_id_path(&path, &settings.rootdir),
            name,
        });
        if !roots.contains(&path) {
            roots.push(path);
        }
    }
    if !exact {
        // Discovery already narrowed the walk to these paths.
        node_ids.clear();
    }
    Ok(Targets {
        roots,
        node_ids,
        exact,
    })
}

pub fn collect(settings: &Settings) -> Result<(Collected, Targets), CoordinatorError> {
    let targets = targets(settings)?;
    let options = DiscoveryOptions {
        rootdir: settings.rootdir.clone(),
        test_patterns: settings.test_patterns.clone(),
        bench_patterns: settings.bench_patterns.clone(),
        norecursedirs: settings.pytest.norecursedirs.clone(),
        ignore: settings.ignore.clone(),
        ignore_glob: settings.ignore_glob.clone(),
    };
    let started = std::time::Instant::now();
    // A few files named on the command line (a pre-commit hook, an editor) are
    // parsed before a pool of threads would have started.
    let threads = if targets.roots.len() <= FEW_FILES && targets.roots.iter().all(|r| r.is_file()) {
        1
    } else {
        dbtest_config::default_jobs()
    };
    let project = collect_project(settings);
    let (files, collections) = dbtest_collect::collect_discovered(threads, &project, |found| {
        discover_each(&targets.roots, &options, found)
    })?;
    if dbtest_runner::timings_enabled() {
        eprintln!(
            "dbtest timings: discovery and static collection {:.2} ms ({} files)",
            started.elapsed().as_secs_f64() * 1e3,
            files.len(),
        );
    }
    // Sized once: grown by doubling, the list of a large suite would briefly be
    // held twice, and peak memory is what a CI runner is sized by.
    let mut items = Vec::with_capacity(collections.iter().map(|c| c.items.len()).sum());
    let mut errors = Vec::new();
    let mut dynamic = Vec::with_capacity(files.len());
    for collection in collections {
        dynamic.push(collection.dynamic);
        items.extend(collection.items);
        errors.extend(collection.error);
    }
    Ok((
        Collected {
            files,
            dynamic,
            items,
            errors,
        },
        targets,
    ))
}

/// What static collection needs of pytest's settings: which names are tests,
/// and how parametrized ids are made.
fn collect_project(settings: &Settings) -> dbtest_collect::Project {
    let pytest = &settings.pytest;
    let id_options = dbtest_collect::IdOptions {
        escape: pytest.escape_ids,
        long_strings: match pytest.long_str_strategy {
            dbtest_config::Strategy::Short => dbtest_collect::LongStrings::Short,
            dbtest_config::Strategy::Legacy => dbtest_collect::LongStrings::Legacy,
            _ => dbtest_collect::LongStrings::Other,
        },
        strict: pytest.strict_parametrization_ids,
        empty_set: match pytest.empty_parameter_set_mark.as_str() {
            "xfail" => dbtest_collect::EmptySet::Xfail,
            "fail_at_collect" => dbtest_collect::EmptySet::Fail,
            _ => dbtest_collect::EmptySet::Skip,
        },
    };
    let rules = dbtest_collect::NameRules {
        classes: pytest.python_classes.clone(),
        functions: pytest.python_functions.clone(),
    };
    dbtest_collect::Project::with_rules(id_options, rules)
}

/// The process environment, for `--shard auto` and Bazel.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `--shard`: which shard this run is, or `None` for all of it.
fn shard_spec(settings: &Settings) -> Result<Option<ShardSpec>, CoordinatorError> {
    let Some(text) = &settings.shard else {
        return Ok(None);
    };
    let usage = |e: dbtest_select::ShardError| CoordinatorError::Usage(e.to_string());
    text.parse::<ShardRequest>()
        .map_err(usage)?
        .resolve(&process_env)
        .map_err(usage)
}

/// Applies `-k`, `-m`, kinds, node ids and `--shard` to the collected items.
/// `durations` balance duration-mode shards.
pub fn select(
    settings: &Settings,
    collected: &Collected,
    targets: Targets,
    durations: &DurationIndex,
) -> Result<Selection, CoordinatorError> {
    let kinds = if settings.kinds.is_empty() {
        // Benchmarks run only when asked for.
        vec![Kind::Unit, Kind::Integration]
    } else {
        settings.kinds.clone()
    };
    let criteria = Criteria {
        keyword: settings
            .keyword
            .as_deref()
            .map(Expression::parse)
            .transpose()?,
        tags: settings
            .tags
            .as_deref()
            .map(Expression::parse)
            .transpose()?,
        kinds,
        node_ids: targets.node_ids,
    };
    let items = dbtest_select::select(&collected.items, &criteria);

    // Named tests that static collection cannot find are a usage error, unless
    // their file may define tests only an import reveals.
    for node in criteria.node_ids.iter().filter(|n| n.name.is_some()) {
        let Some(name) = &node.name else { continue };
        let prefix = format!("{}::{name}", node.rel);
        let found = items.iter().any(|&i| {
            let id = &collected.items[i].id;
            **id == *prefix
                || id.starts_with(&format!("{prefix}::"))
                || id.starts_with(&format!("{prefix}["))
        });
        let file_dynamic = collected
            .files
            .iter()
            .position(|f| f.rel == node.rel)
            .is_some_and(|i| collected.dynamic[i]);
        if !found && !file_dynamic {
            return Err(CoordinatorError::Usage(format!("not found: {prefix}")));
        }
    }

    let mut has_selected = vec![false; collected.files.len()];
    for &i in &items {
        has_selected[collected.items[i].file] = true;
    }
    let probes = (0..collected.files.len())
        .filter(|&f| {
            let file = &collected.files[f];
            let path_kind = Kind::of_test(&file.rel, &[]);
            !has_selected[f]
                && collected.dynamic[f]
                && !file.is_benchmark
                && criteria.may_select_in_file(&file.rel, path_kind)
        })
        .collect();
    let shard = shard_spec(settings)?;
    let items = match shard {
        Some(spec) => {
            let mode = match &settings.shard_mode {
                Some(text) => text
                    .parse::<ShardMode>()
                    .map_err(|e| CoordinatorError::Usage(e.to_string()))?,
                None => ShardMode::default_for(!durations.is_empty()),
            };
            shard_items(&collected.items, &items, spec, mode, &|id| {
                durations.get(id)
            })
        }
        None => items,
    };
    Ok(Selection {
        criteria,
        items,
        probes,
        exact: targets.exact,
        shard,
    })
}
