//! `--changed [REF]`: which test files the changes since REF reach, through
//! the static import graph, and why (`--explain`). The rule (what selects
//! everything) is `dbtest_changes::scope`'s, plus one here: a project module
//! that imports by a computed name (`importlib.import_module(name)`), reached
//! from a test, may load any module, so any Python change selects everything.

use crate::error::CoordinatorError;
use crate::pipeline::Collected;
use dbtest_changes::{Change, Changes, ProjectBounds, Scope};
use dbtest_config::Settings;
use dbtest_discovery::{relative_id_path, DiscoveryOptions};
use dbtest_importgraph::{GraphInput, ImportGraph, ParsedFile, RootHints};
use std::path::PathBuf;

/// Why test files were selected under `--changed`.
#[derive(Debug, Clone)]
pub struct Traced {
    /// What the changes are compared with (`HEAD`; `None` under `--watch`).
    pub revision: Option<String>,
    /// How the changes are named in messages (`--changed HEAD`, `--watch`).
    pub label: String,
    /// Every test selected, and why (`pyproject.toml changed (configuration)`).
    pub everything: Option<String>,
    /// Per collected file: its chain to a changed module (its own path first,
    /// then module names), if it is affected.
    pub chains: Vec<Option<Vec<String>>>,
    /// Project files changed since the revision (Python modules and others).
    pub changed_files: usize,
    /// The other selection options (paths, `-k`, `-m`, ...) select tests, but
    /// the changes reach none of them: nothing to run, and not exit 5 (see
    /// [`crate::list::nothing_affected`]).
    pub reaches_none: bool,
    /// The changed project modules and every module that imports one,
    /// directly or not (sorted; empty when `everything` is set).
    pub reached_files: Vec<PathBuf>,
}

impl Traced {
    /// Whether a change may have reached the module in `path` (a changed
    /// module or one importing it; anything, when everything was selected).
    pub fn may_have_reached(&self, path: &std::path::Path) -> bool {
        self.everything.is_some()
            || self
                .reached_files
                .binary_search_by(|f| f.as_path().cmp(path))
                .is_ok()
    }

    pub fn selects_file(&self, file: usize) -> bool {
        self.everything.is_some() || self.chains.get(file).is_some_and(Option::is_some)
    }

    /// Why the tests of `file` were selected, in one line.
    pub fn because(&self, file: usize) -> String {
        if let Some(why) = &self.everything {
            return format!("everything: {why}");
        }
        match self.chains.get(file).and_then(Option::as_ref) {
            Some(chain) if chain.len() == 1 => format!("{} changed", chain[0]),
            Some(chain) => chain.join(" -> "),
            None => String::new(),
        }
    }

    /// The line a run prints first.
    pub fn summary(&self, selected_files: usize) -> String {
        match &self.everything {
            Some(why) => format!("{}: every test selected: {why}", self.label),
            None => {
                let plural = if selected_files == 1 { "" } else { "s" };
                let changes = if self.changed_files == 1 { "" } else { "s" };
                format!(
                    "{}: {} changed file{changes}, {selected_files} test file{plural} affected",
                    self.label, self.changed_files
                )
            }
        }
    }
}

/// Where the changes come from.
#[derive(Debug)]
pub enum ChangeSource {
    /// `--changed REV`: git's word on the work tree, asked on a thread of its
    /// own as soon as the run starts, so that it overlaps collection.
    Git {
        revision: String,
        answer: std::thread::JoinHandle<Result<Changes, dbtest_changes::GitError>>,
    },
    /// `--watch`: the files the watcher saw change (`label` names them).
    Files { label: String, files: Vec<Change> },
}

impl ChangeSource {
    /// The one `--changed` asks for, if it does (git is asked at once).
    pub fn of(settings: &Settings) -> Option<ChangeSource> {
        let revision = settings.changed.changed.clone()?;
        let (cwd, asked) = (settings.cwd.clone(), revision.clone());
        let answer = std::thread::spawn(move || dbtest_changes::changed_since(&cwd, &asked));
        Some(ChangeSource::Git { revision, answer })
    }
}

/// What the changes reach among the collected test files.
pub fn trace(
    settings: &Settings,
    collected: &Collected,
    source: ChangeSource,
) -> Result<Traced, CoordinatorError> {
    let started = std::time::Instant::now();
    let (revision, label, files) = match source {
        ChangeSource::Git { revision, answer } => {
            let changes = answer
                .join()
                .map_err(|_| CoordinatorError::Internal("asking git what changed failed".into()))?
                .map_err(|e| CoordinatorError::Usage(e.to_string()))?;
            let files = under_rootdir(changes, &settings.rootdir);
            (
                Some(revision.clone()),
                format!("--changed {revision}"),
                files,
            )
        }
        ChangeSource::Files { label, files } => (None, label, files),
    };
    let changes = dbtest_changes::Changes {
        toplevel: settings.rootdir.clone(),
        files,
    };
    let bounds = bounds(settings);
    let mut traced = Traced {
        revision,
        label,
        everything: None,
        chains: vec![None; collected.files.len()],
        changed_files: 0,
        reaches_none: false,
        reached_files: Vec::new(),
    };
    let modules = match dbtest_changes::scope(&changes.files, &bounds) {
        Scope::Everything(why) => {
            traced.everything = Some(why);
            return Ok(traced);
        }
        Scope::Modules(modules) => modules,
    };
    traced.changed_files = modules.len();
    if modules.is_empty() {
        return Ok(traced);
    }
    let graph = build_graph(settings, collected, &changes.files)?;
    let tests: Vec<usize> = collected
        .files
        .iter()
        .filter_map(|f| graph.module_of(&f.path))
        .collect();
    // A computed import reached from a test may load any module.
    let reached = graph.reachable_from(&tests);
    if let Some(&(module, line)) = graph.dynamic_imports().iter().find(|(m, _)| reached[*m]) {
        let rel = relative_id_path(&graph.module(module).path, &settings.rootdir);
        traced.everything = Some(format!(
            "{rel}:{line} imports a module by a computed name, which may be any changed one"
        ));
        return Ok(traced);
    }
    let changed: Vec<usize> = modules.iter().filter_map(|m| graph.module_of(m)).collect();
    let affected = graph.affected(&changed);
    let mut reached: Vec<PathBuf> = (0..graph.len())
        .filter(|&m| affected.contains(m))
        .map(|m| graph.module(m).path.clone())
        .chain(modules)
        .collect();
    reached.sort_unstable();
    reached.dedup();
    traced.reached_files = reached;
    for (f, file) in collected.files.iter().enumerate() {
        let Some(chain) = graph.module_of(&file.path).and_then(|m| affected.chain(m)) else {
            continue;
        };
        let mut names = vec![file.rel.clone()];
        names.extend(chain[1..].iter().map(|&m| graph.module(m).name.clone()));
        traced.chains[f] = Some(names);
    }
    if dbtest_runner::timings_enabled() {
        eprintln!(
            "dbtest timings: --changed: git and import graph {:.2} ms ({} modules)",
            started.elapsed().as_secs_f64() * 1e3,
            graph.len()
        );
    }
    Ok(traced)
}

/// git's paths (under its top level, symbolic links resolved) as paths under
/// the rootdir as the settings spell it (which may go through a symbolic link).
fn under_rootdir(changes: Changes, rootdir: &std::path::Path) -> Vec<Change> {
    let (Ok(top), Ok(root)) = (changes.toplevel.canonicalize(), rootdir.canonicalize()) else {
        return changes.files;
    };
    let Ok(inner) = root.strip_prefix(&top) else {
        return changes.files; // the rootdir is above the repository: paths compare as they are
    };
    changes
        .files
        .into_iter()
        .map(|mut change| {
            let rel = change
                .path
                .strip_prefix(&changes.toplevel)
                .ok()
                .and_then(|p| p.strip_prefix(inner).ok())
                .map(|p| rootdir.join(p));
            if let Some(path) = rel {
                change.path = path;
            }
            change
        })
        .collect()
}

/// What is the project's, for the change rules.
pub fn bounds(settings: &Settings) -> ProjectBounds {
    ProjectBounds {
        rootdir: settings.rootdir.clone(),
        norecursedirs: settings.pytest.norecursedirs.clone(),
        cache_dir: settings.cache_dir.clone(),
    }
}

fn build_graph(
    settings: &Settings,
    collected: &Collected,
    changes: &[Change],
) -> Result<ImportGraph, CoordinatorError> {
    let roots = dbtest_importgraph::source_roots(&RootHints {
        rootdir: settings.rootdir.clone(),
        configured: settings.source_roots.clone(),
        pythonpath: settings
            .pytest
            .pythonpath
            .iter()
            .map(|p| settings.rootdir.join(p))
            .collect(),
        sys_path: settings.changed.sys_path.clone(),
    });
    let mut walk_roots = vec![settings.rootdir.clone()];
    walk_roots.extend(
        roots
            .iter()
            .filter(|r| !r.starts_with(&settings.rootdir))
            .cloned(),
    );
    let options = DiscoveryOptions {
        norecursedirs: settings.pytest.norecursedirs.clone(),
        ignore: settings.ignore.clone(),
        ignore_glob: settings.ignore_glob.clone(),
        ..DiscoveryOptions::new(settings.rootdir.clone())
    };
    let files = dbtest_discovery::python_files(&walk_roots, &options)?;
    let parsed: Vec<ParsedFile> = collected
        .files
        .iter()
        .zip(&collected.imports)
        .filter_map(|(file, scan)| {
            scan.as_ref().map(|scan| ParsedFile {
                path: file.path.clone(),
                import_root: file.import_root.clone(),
                scan: scan.clone(),
            })
        })
        .collect();
    let missing: Vec<PathBuf> = changes
        .iter()
        .filter(|c| c.is_deleted() && c.path.extension().is_some_and(|e| e == "py"))
        .map(|c| c.path.clone())
        .collect();
    Ok(ImportGraph::build(GraphInput {
        rootdir: settings.rootdir.clone(),
        roots,
        files,
        parsed,
        missing,
        threads: dbtest_config::default_jobs(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbtest_changes::Status;

    #[test]
    fn git_paths_are_spelled_as_the_rootdir_is() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir_all(real.join("proj/pkg")).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let top = real.canonicalize().unwrap();
        let changes = Changes {
            toplevel: top.clone(),
            files: vec![Change {
                path: top.join("proj/pkg/a.py"),
                status: Status::Modified,
            }],
        };
        let rootdir = tmp.path().join("link/proj");
        let files = under_rootdir(changes, &rootdir);
        assert_eq!(files[0].path, rootdir.join("pkg/a.py"));
    }
}
