//! Which project files an import executes, answered from the set of the
//! project's files (no file-system calls): Python's rules for regular
//! packages (`__init__.py`), modules and namespace packages, against the
//! source roots.

use crate::graph::GraphInput;
use dbtest_collect::ImportRef;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub(crate) struct Resolver {
    files: HashSet<PathBuf>,
    /// Every directory holding a project file, up to the filesystem root.
    dirs: HashSet<PathBuf>,
    /// Source roots, then the directories pytest puts on `sys.path` for test files.
    bases: Vec<PathBuf>,
    roots: Vec<PathBuf>,
    rootdir: PathBuf,
}

impl Resolver {
    pub(crate) fn new(paths: &[PathBuf], input: &GraphInput) -> Resolver {
        let files: HashSet<PathBuf> = paths.iter().cloned().collect();
        let mut dirs = HashSet::new();
        for path in paths {
            for dir in path.ancestors().skip(1) {
                if !dirs.insert(dir.to_path_buf()) {
                    break;
                }
            }
        }
        let mut bases = input.roots.clone();
        for file in &input.parsed {
            if !bases.contains(&file.import_root) {
                bases.push(file.import_root.clone());
            }
        }
        Resolver {
            files,
            dirs,
            bases,
            roots: input.roots.clone(),
            rootdir: input.rootdir.clone(),
        }
    }

    /// The dotted name of the file at `path` under the most specific source
    /// root holding it (else the rootdir, else its stem).
    pub(crate) fn module_name(&self, path: &Path) -> String {
        let root = self
            .roots
            .iter()
            .chain(self.bases.iter())
            .chain(std::iter::once(&self.rootdir))
            .filter(|r| path.starts_with(r))
            .max_by_key(|r| r.components().count());
        let rel = match root {
            Some(root) => path.strip_prefix(root).unwrap_or(path),
            None => Path::new(path.file_name().unwrap_or_default()),
        };
        let mut parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.len() > 1 && parts.last().is_some_and(|p| p == "__init__") {
            parts.pop();
        }
        parts.join(".")
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains(path)
    }

    /// The files `import` (written in `from`) executes, pushed onto `out`.
    /// `own_root`: the `sys.path` entry of `from` itself (a test file's).
    pub(crate) fn resolve(
        &self,
        from: &Path,
        own_root: Option<&Path>,
        import: &ImportRef,
        out: &mut Vec<PathBuf>,
    ) {
        let parts: Vec<&str> = import.module.split('.').filter(|p| !p.is_empty()).collect();
        let start = if import.level > 0 {
            let mut dir = from.parent();
            for _ in 1..import.level {
                dir = dir.and_then(Path::parent);
            }
            match dir {
                Some(dir) => dir.to_path_buf(),
                None => return,
            }
        } else {
            let Some(top) = parts.first() else { return };
            let found = own_root
                .into_iter()
                .chain(self.bases.iter().map(PathBuf::as_path))
                .find(|base| {
                    let dir = base.join(top);
                    self.dirs.contains(&dir) || self.is_file(&dir.with_extension("py"))
                });
            match found {
                Some(base) => base.to_path_buf(),
                None => return, // not the project's
            }
        };
        // Down the dotted path: each package's `__init__.py`, then the module.
        let mut dir = start;
        let mut package = true;
        for part in &parts {
            let sub = dir.join(part);
            let init = sub.join("__init__.py");
            if self.is_file(&init) {
                out.push(init);
                dir = sub;
            } else if self.is_file(&sub.with_extension("py")) {
                out.push(sub.with_extension("py"));
                package = false;
                break;
            } else if self.dirs.contains(&sub) {
                dir = sub; // a namespace package
            } else {
                return;
            }
        }
        if import.level > 0 && parts.is_empty() {
            let init = dir.join("__init__.py");
            if self.is_file(&init) {
                out.push(init);
            }
        }
        // `from pkg import mod`: a name may be a submodule.
        if package {
            for name in &import.names {
                let sub = dir.join(name);
                let init = sub.join("__init__.py");
                if self.is_file(&init) {
                    out.push(init);
                } else if self.is_file(&sub.with_extension("py")) {
                    out.push(sub.with_extension("py"));
                }
            }
        }
    }

    /// The `__init__.py` of the package `path` is in (importing a module runs
    /// its package's first).
    pub(crate) fn package_of(&self, path: &Path, out: &mut Vec<PathBuf>) {
        let dir = if path.file_name().is_some_and(|n| n == "__init__.py") {
            path.parent().and_then(Path::parent)
        } else {
            path.parent()
        };
        if let Some(init) = dir.map(|d| d.join("__init__.py")) {
            if self.is_file(&init) {
                out.push(init);
            }
        }
    }

    /// Every `conftest.py` in the directory of `path` and those above it, up to
    /// the rootdir.
    pub(crate) fn conftests_above(&self, path: &Path) -> Vec<PathBuf> {
        path.ancestors()
            .skip(1)
            .take_while(|d| d.starts_with(&self.rootdir))
            .map(|d| d.join("conftest.py"))
            .filter(|c| self.is_file(c))
            .collect()
    }
}
