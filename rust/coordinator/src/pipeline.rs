//! From the command line to a list of selected tests: targets, discovery,
//! static collection, selection. Nothing here imports Python code.

use crate::cache::DurationIndex;
use crate::changed::{ChangeSource, Traced};
use crate::ci::{process_env, resolve_shard};
use crate::error::CoordinatorError;
use dbtest_collect::CollectError;
use dbtest_config::{normalize, Settings};
use dbtest_discovery::{discover_each, relative_id_path, DiscoveryOptions};
use dbtest_model::{Kind, TestFile, TestItem};
use dbtest_select::{
    shard_selection, Criteria, Expression, NodeId, ShardMode, ShardOwners, ShardRequest, ShardSpec,
};
use std::path::PathBuf;

/// Up to this many files given by name are collected on the calling thread.
const FEW_FILES: usize = 4;

pub struct Collected {
    pub files: Vec<TestFile>,
    /// Per file: it imports pytest at top level.
    pub imports_pytest: Vec<bool>,
    /// Per file: may define tests the static pass cannot see.
    pub dynamic: Vec<bool>,
    /// Per file: has module-level set-up (its tests stay on one worker).
    pub module_setup: Vec<bool>,
    pub items: Vec<TestItem>,
    pub errors: Vec<CollectError>,
    /// Per file: every import it makes (only under `--changed`, for the
    /// import graph).
    pub imports: Vec<Option<dbtest_collect::ImportScan>>,
}

pub struct Selection {
    pub criteria: Criteria,
    /// Indices into `Collected::items` of the tests this run plans (under
    /// `--shard`, its shard's part), in collection order.
    pub items: Vec<usize>,
    /// Files that may define tests the static pass could not see, which this
    /// run must import to find them (under `--shard`, the files it owns: see
    /// [`ShardOwners`]), whether or not it plans static tests of theirs.
    pub probes: Vec<usize>,
    /// Node ids named a test: run exactly that, do not look for more.
    pub exact: bool,
    /// Under `--shard`: the shard this run is, and the owner of every test
    /// found at import.
    pub owners: Option<ShardOwners>,
    /// The whole selection, before sharding: the same in every shard.
    pub whole: WholeSelection,
    /// Under `--changed`: what the changes reach, and why.
    pub changed: Option<Traced>,
}

impl Selection {
    /// The shard this run is (`--shard`), if any.
    pub fn shard(&self) -> Option<ShardSpec> {
        self.owners.as_ref().map(ShardOwners::spec)
    }
}

/// What every shard of a matrix knows of the whole selection.
#[derive(Debug, Clone, Copy, Default)]
pub struct WholeSelection {
    /// Selected tests the static pass found.
    pub tests: usize,
    /// Wrapping sum of the FNV-1a hashes of their ids: shards that disagree
    /// on the selection (other arguments, other files) tell each other apart
    /// by it even when the counts agree. Order-free, so no sort is needed.
    pub digest: u64,
    /// Files that may define tests only an import reveals.
    pub dynamic_files: usize,
}

impl WholeSelection {
    /// Nothing to run in any shard: no static test, and no file to import
    /// that might define one.
    pub fn is_empty(&self) -> bool {
        self.tests == 0 && self.dynamic_files == 0
    }
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
    let mut project = crate::pytest::collect_project(settings);
    project.scan_imports = settings.changed.changed.is_some() || settings.changed.watch;
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
    let mut imports_pytest = Vec::with_capacity(files.len());
    let mut module_setup = Vec::with_capacity(files.len());
    let mut imports = Vec::with_capacity(files.len());
    for mut collection in collections {
        imports.push(collection.imports.take());
        dynamic.push(collection.dynamic);
        module_setup.push(collection.module_setup);
        imports_pytest.push(collection.imported_modules.iter().any(|m| {
            m.split('.')
                .next()
                .is_some_and(|top| top == "pytest" || top == "_pytest")
        }));
        items.extend(collection.items);
        errors.extend(collection.error);
    }
    Ok((
        Collected {
            files,
            imports_pytest,
            dynamic,
            module_setup,
            items,
            errors,
            imports,
        },
        targets,
    ))
}

/// `--shard`: which shard this run is, or `None` for all of it.
fn shard_spec(settings: &Settings) -> Result<Option<ShardSpec>, CoordinatorError> {
    let Some(text) = &settings.shard else {
        return Ok(None);
    };
    let request = text
        .parse::<ShardRequest>()
        .map_err(|e| CoordinatorError::Usage(e.to_string()))?;
    resolve_shard(request, &process_env).map_err(|e| CoordinatorError::Usage(e.to_string()))
}

/// Applies `-k`, `-m`, kinds, node ids, the changes (`--changed`) and
/// `--shard` to the collected items. `durations` balance duration-mode shards.
pub fn select(
    settings: &Settings,
    collected: &Collected,
    targets: Targets,
    durations: &DurationIndex,
    changes: Option<ChangeSource>,
) -> Result<Selection, CoordinatorError> {
    let kinds = if settings.command == dbtest_config::Command::Bench {
        // Benchmarks, and the tests that take pytest-benchmark's fixture
        // (`bench::bench` keeps those of the others).
        vec![Kind::Unit, Kind::Integration, Kind::Benchmark]
    } else if settings.kinds.is_empty() {
        // Plain `dbtest` runs every benchmark once, as a smoke test.
        vec![Kind::Unit, Kind::Integration, Kind::Benchmark]
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
        deselect: settings
            .deselect
            .iter()
            .map(|text| {
                let (path, name) = match text.split_once("::") {
                    Some((path, name)) => (path, Some(name.to_string())),
                    None => (text.as_str(), None),
                };
                NodeId {
                    rel: relative_id_path(&normalize(&settings.cwd.join(path)), &settings.rootdir),
                    name,
                }
            })
            .collect(),
    };
    let mut items = dbtest_select::select(&collected.items, &criteria);
    let mut changed = match changes {
        Some(source) => Some(crate::changed::trace(settings, collected, source)?),
        None => None,
    };
    // Files that may define tests only an import reveals, and that the other
    // options could select some of.
    let may_reveal = |f: usize| {
        let file = &collected.files[f];
        collected.dynamic[f]
            && !file.is_benchmark
            && criteria.may_select_in_file(&file.rel, Kind::of_test(&file.rel, &[]))
    };
    if let Some(traced) = &mut changed {
        let selected_any = !items.is_empty() || (0..collected.files.len()).any(may_reveal);
        items.retain(|&i| traced.selects_file(collected.items[i].file));
        traced.reaches_none = selected_any
            && items.is_empty()
            && !(0..collected.files.len()).any(|f| may_reveal(f) && traced.selects_file(f));
    }

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

    // Files that may define tests only an import reveals, and that could hold
    // selected ones.
    let dynamic_files: Vec<usize> = (0..collected.files.len())
        .filter(|&f| may_reveal(f) && changed.as_ref().is_none_or(|t| t.selects_file(f)))
        .collect();
    let whole = WholeSelection {
        tests: items.len(),
        digest: items.iter().fold(0u64, |sum, &i| {
            sum.wrapping_add(dbtest_select::fnv1a64(collected.items[i].id.as_bytes()))
        }),
        dynamic_files: dynamic_files.len(),
    };
    let (items, owners) = match shard_spec(settings)? {
        Some(spec) => {
            let mode = match &settings.shard_mode {
                Some(text) => text
                    .parse::<ShardMode>()
                    .map_err(|e| CoordinatorError::Usage(e.to_string()))?,
                None => ShardMode::default_for(!durations.is_empty()),
            };
            let sharded = shard_selection(&collected.items, &items, spec, mode, &|id| {
                durations.get(id)
            });
            (sharded.items, Some(sharded.owners))
        }
        None => (items, None),
    };
    // Decided after sharding: a shard imports each such file in which it owns
    // anything, that is, each file it owns (tests found there that belong to no
    // static unit are its own) and each file whose static tests it runs (tests
    // found there may belong to those tests' units).
    let mut planned_here = vec![false; collected.files.len()];
    for &i in &items {
        planned_here[collected.items[i].file] = true;
    }
    let probes = dynamic_files
        .into_iter()
        .filter(|&f| {
            planned_here[f]
                || owners
                    .as_ref()
                    .is_none_or(|o| o.owns_file(&collected.files[f].rel))
        })
        .collect();
    Ok(Selection {
        criteria,
        items,
        probes,
        exact: targets.exact,
        owners,
        whole,
        changed,
    })
}
