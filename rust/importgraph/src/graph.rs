//! The graph: one node per Python file of the project, an edge from a file to
//! every project file its imports execute (the module, and each package's
//! `__init__.py` on the way to it). Third-party and standard-library imports
//! resolve to nothing and are left out.

use crate::resolve::Resolver;
use dbtest_collect::ImportScan;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A file whose imports are already known (a test file, parsed by static
/// collection), with the directory pytest puts on `sys.path` for it.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub path: PathBuf,
    pub import_root: PathBuf,
    pub scan: ImportScan,
}

/// What the graph is built from.
#[derive(Debug, Clone, Default)]
pub struct GraphInput {
    pub rootdir: PathBuf,
    /// Source roots, most specific first (see [`crate::source_roots`]).
    pub roots: Vec<PathBuf>,
    /// Every Python file of the project; those not in `parsed` are parsed here.
    pub files: Vec<PathBuf>,
    /// Files whose imports are known (test files).
    pub parsed: Vec<ParsedFile>,
    /// Files that no longer exist (deleted since the reference): nodes that
    /// import nothing, so that their importers are found.
    pub missing: Vec<PathBuf>,
    /// Threads to parse on.
    pub threads: usize,
}

#[derive(Debug, Clone)]
pub struct Module {
    pub path: PathBuf,
    /// Dotted name under its most specific source root (`pkg.core`).
    pub name: String,
}

#[derive(Debug, Default)]
pub struct ImportGraph {
    pub(crate) modules: Vec<Module>,
    pub(crate) index: HashMap<PathBuf, usize>,
    /// Per module: the modules it imports (sorted, each once).
    pub(crate) imports: Vec<Vec<usize>>,
    /// Modules that import something by a computed name, and where.
    pub(crate) dynamic: Vec<(usize, u32)>,
    /// Files that could not be read or parsed: their imports are unknown.
    pub(crate) errors: Vec<(usize, String)>,
}

impl ImportGraph {
    pub fn build(input: GraphInput) -> ImportGraph {
        let mut graph = ImportGraph::default();
        let mut paths: Vec<PathBuf> = input
            .files
            .iter()
            .chain(input.parsed.iter().map(|p| &p.path))
            .chain(&input.missing)
            .cloned()
            .collect();
        paths.sort();
        paths.dedup();
        let resolver = Resolver::new(&paths, &input);
        for path in &paths {
            let name = resolver.module_name(path);
            graph.index.insert(path.clone(), graph.modules.len());
            graph.modules.push(Module {
                path: path.clone(),
                name,
            });
        }
        graph.imports = vec![Vec::new(); paths.len()];

        let parsed: HashMap<&Path, &ParsedFile> =
            input.parsed.iter().map(|p| (p.path.as_path(), p)).collect();
        let missing: std::collections::HashSet<&Path> =
            input.missing.iter().map(PathBuf::as_path).collect();
        let to_parse: Vec<usize> = (0..paths.len())
            .filter(|&i| {
                let path = paths[i].as_path();
                !parsed.contains_key(path) && !missing.contains(path)
            })
            .collect();
        let scans = parse_all(&paths, &to_parse, input.threads);

        let add = |graph: &mut ImportGraph, from: usize, scan: &ImportScan, root: Option<&Path>| {
            let mut targets = Vec::new();
            for import in &scan.imports {
                resolver.resolve(&graph.modules[from].path, root, import, &mut targets);
            }
            resolver.package_of(&graph.modules[from].path, &mut targets);
            if let Some(line) = scan.dynamic_import {
                graph.dynamic.push((from, line));
            }
            let mut edges: Vec<usize> = targets
                .iter()
                .filter_map(|t| graph.index.get(t).copied())
                .filter(|&t| t != from)
                .collect();
            edges.sort_unstable();
            edges.dedup();
            graph.imports[from] = edges;
        };
        for (i, result) in scans {
            match result {
                Ok(scan) => add(&mut graph, i, &scan, None),
                Err(message) => graph.errors.push((i, message)),
            }
        }
        for file in &input.parsed {
            if let Some(&i) = graph.index.get(&file.path) {
                add(&mut graph, i, &file.scan, Some(&file.import_root));
                // pytest imports every conftest.py above a test file first.
                let conftests = resolver.conftests_above(&file.path);
                let mut edges = std::mem::take(&mut graph.imports[i]);
                edges.extend(
                    conftests
                        .iter()
                        .filter_map(|c| graph.index.get(c).copied())
                        .filter(|&c| c != i),
                );
                edges.sort_unstable();
                edges.dedup();
                graph.imports[i] = edges;
            }
        }
        graph.dynamic.sort_unstable();
        graph
    }

    pub fn len(&self) -> usize {
        self.modules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The node of the file at `path`, if it is one of the project's.
    pub fn module_of(&self, path: &Path) -> Option<usize> {
        self.index.get(path).copied()
    }

    pub fn module(&self, i: usize) -> &Module {
        &self.modules[i]
    }

    /// What module `i` imports.
    pub fn imports_of(&self, i: usize) -> &[usize] {
        &self.imports[i]
    }

    /// Modules that import by a computed name (`importlib.import_module(name)`),
    /// with the line.
    pub fn dynamic_imports(&self) -> &[(usize, u32)] {
        &self.dynamic
    }

    /// Files whose imports could not be read, with why.
    pub fn errors(&self) -> &[(usize, String)] {
        &self.errors
    }

    /// Per module: whether one of `from` imports it, directly or not (or is it).
    pub fn reachable_from(&self, from: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.modules.len()];
        let mut stack: Vec<usize> = from.to_vec();
        while let Some(m) = stack.pop() {
            if std::mem::replace(&mut seen[m], true) {
                continue;
            }
            stack.extend(self.imports[m].iter().copied().filter(|&n| !seen[n]));
        }
        seen
    }
}

type Scanned = Vec<(usize, Result<ImportScan, String>)>;

/// Parses the files `which` of `paths` on `threads` threads.
fn parse_all(paths: &[PathBuf], which: &[usize], threads: usize) -> Scanned {
    let threads = threads.clamp(1, which.len().max(1));
    if threads == 1 {
        return which
            .iter()
            .map(|&i| (i, dbtest_collect::scan_file_imports(&paths[i])))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = which.get(k) else { break };
                        done.push((i, dbtest_collect::scan_file_imports(&paths[i])));
                    }
                    done
                })
            })
            .collect();
        let mut all: Scanned = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all
    })
}
