//! File discovery: walk the given paths, honour `.gitignore`, skip directories
//! that never hold a project's tests, and keep files whose names match the test
//! or benchmark patterns. Each file also gets the dotted module name a worker
//! imports it under, following pytest's default (`prepend`) rule: the package
//! chain is every enclosing directory with an `__init__.py`, and the first
//! directory above it goes on `sys.path`.

use dbtest_model::TestFile;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("path does not exist: {0}")]
    Missing(String),
    #[error("invalid file pattern `{pattern}`: {source}")]
    Pattern {
        pattern: String,
        source: globset::Error,
    },
    #[error("cannot read {path}: {message}")]
    Walk { path: String, message: String },
}

#[derive(Debug, Clone)]
pub struct DiscoveryOptions {
    /// Directory ids are relative to.
    pub rootdir: PathBuf,
    /// File-name globs of test files, e.g. `test_*.py`.
    pub test_patterns: Vec<String>,
    /// File-name globs of benchmark files, e.g. `bench_*.py`.
    pub bench_patterns: Vec<String>,
    /// Directory name patterns not to descend into (pytest's `norecursedirs`).
    /// `__pycache__` and virtualenvs (a directory holding `pyvenv.cfg`) are
    /// skipped whatever the patterns say, as pytest does.
    pub norecursedirs: Vec<String>,
    /// Paths (absolute) not to collect, and patterns of paths (pytest's
    /// `--ignore`, `--ignore-glob`).
    pub ignore: Vec<PathBuf>,
    pub ignore_glob: Vec<String>,
}

impl DiscoveryOptions {
    /// pytest's defaults (`python_files`, `norecursedirs`), and `bench_*.py`.
    pub fn new(rootdir: PathBuf) -> Self {
        let pytest = dbtest_pytest_config::PytestSettings::default();
        DiscoveryOptions {
            rootdir,
            test_patterns: pytest.python_files,
            bench_patterns: vec!["bench_*.py".into()],
            norecursedirs: pytest.norecursedirs,
            ignore: Vec::new(),
            ignore_glob: Vec::new(),
        }
    }
}

/// A glob that matches as Python's `fnmatch` does: `*`, `?`, `[seq]`,
/// `[!seq]`, and braces taken literally (`{arch}`).
fn fnmatch_glob(pattern: &str) -> Result<Glob, DiscoveryError> {
    let escaped = pattern.replace('{', "[{]").replace('}', "[}]");
    GlobBuilder::new(&escaped)
        .literal_separator(false)
        .backslash_escape(false)
        .build()
        .map_err(|source| DiscoveryError::Pattern {
            pattern: pattern.to_string(),
            source,
        })
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, DiscoveryError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(fnmatch_glob(pattern)?);
    }
    builder.build().map_err(|source| DiscoveryError::Pattern {
        pattern: patterns.join(", "),
        source,
    })
}

/// Whether the walk leaves out this directory: `__pycache__`, a virtualenv,
/// or a name matching `norecursedirs`.
fn is_skipped_dir(path: &Path, norecurse: &GlobSet) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    name == "__pycache__" || norecurse.is_match(name) || path.join("pyvenv.cfg").is_file()
}

/// `--ignore` paths and `--ignore-glob` patterns.
#[derive(Clone)]
struct Ignored {
    paths: Vec<PathBuf>,
    globs: GlobSet,
}

impl Ignored {
    fn contains(&self, path: &Path) -> bool {
        self.paths.iter().any(|i| path.starts_with(i)) || self.globs.is_match(path)
    }
}

/// Finds every test and benchmark file under `paths` (files given directly are
/// kept whatever their name), sorted by relative path.
pub fn discover(
    paths: &[PathBuf],
    options: &DiscoveryOptions,
) -> Result<Vec<TestFile>, DiscoveryError> {
    let mut found: Vec<TestFile> = Vec::new();
    discover_each(paths, options, &mut |file| found.push(file))?;
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(found)
}

/// Hands every test and benchmark file under `paths` to `found` as the walk
/// meets it (each file once, in walk order), so that work on a file can start
/// before the walk ends.
pub fn discover_each(
    paths: &[PathBuf],
    options: &DiscoveryOptions,
    found: &mut dyn FnMut(TestFile),
) -> Result<(), DiscoveryError> {
    let tests = glob_set(&options.test_patterns)?;
    let benches = glob_set(&options.bench_patterns)?;
    let norecurse = glob_set(&options.norecursedirs)?;
    let ignored = Ignored {
        paths: options.ignore.clone(),
        globs: glob_set(&options.ignore_glob)?,
    };
    let mut resolver = ModuleResolver::default();
    let mut seen = std::collections::HashSet::new();

    for root in paths {
        let root = absolute(&options.rootdir, root);
        if !root.exists() {
            return Err(DiscoveryError::Missing(root.display().to_string()));
        }
        if root.is_file() {
            if root.extension().is_some_and(|e| e == "py") && seen.insert(root.clone()) {
                let is_benchmark = file_name_matches(&benches, &root);
                found(resolver.test_file(&root, &options.rootdir, is_benchmark));
            }
            continue;
        }
        for entry in walk(&root, &norecurse, &ignored) {
            let entry = entry.map_err(|e| DiscoveryError::Walk {
                path: root.display().to_string(),
                message: e.to_string(),
            })?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let path = entry.path();
            let is_benchmark = file_name_matches(&benches, path);
            if !(is_benchmark || file_name_matches(&tests, path)) || ignored.contains(path) {
                continue;
            }
            if seen.insert(path.to_path_buf()) {
                found(resolver.test_file(path, &options.rootdir, is_benchmark));
            }
        }
    }
    Ok(())
}

/// Every Python file (`*.py`) under `roots`, with the walk's rules (`.gitignore`,
/// `norecursedirs`, virtualenvs, `__pycache__`, `--ignore`), sorted: the
/// project's modules, for its import graph.
pub fn python_files(
    roots: &[PathBuf],
    options: &DiscoveryOptions,
) -> Result<Vec<PathBuf>, DiscoveryError> {
    let norecurse = glob_set(&options.norecursedirs)?;
    let ignored = Ignored {
        paths: options.ignore.clone(),
        globs: glob_set(&options.ignore_glob)?,
    };
    let mut found = Vec::new();
    for root in roots.iter().filter(|r| r.is_dir()) {
        for entry in walk(root, &norecurse, &ignored) {
            let entry = entry.map_err(|e| DiscoveryError::Walk {
                path: root.display().to_string(),
                message: e.to_string(),
            })?;
            let path = entry.path();
            if entry.file_type().is_some_and(|t| t.is_file())
                && path.extension().is_some_and(|e| e == "py")
                && !ignored.contains(path)
            {
                found.push(path.to_path_buf());
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The walk under `root`: `.gitignore` honoured, skipped directories left out.
fn walk(root: &Path, norecurse: &GlobSet, ignored: &Ignored) -> ignore::Walk {
    ignore::WalkBuilder::new(root)
        // Hidden directories are skipped by `norecursedirs`' `.*`, as in pytest.
        .hidden(false)
        // `.gitignore` only: ripgrep's `.ignore` files are not a Python
        // convention, and looking for them costs a `stat` per directory.
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .parents(true)
        .filter_entry({
            // The walker keeps its filter for its whole life: it owns copies.
            let (norecurse, ignored) = (norecurse.clone(), ignored.clone());
            move |entry| {
                !(entry.depth() > 0
                    && entry.file_type().is_some_and(|t| t.is_dir())
                    && (is_skipped_dir(entry.path(), &norecurse) || ignored.contains(entry.path())))
            }
        })
        .build()
}

fn file_name_matches(set: &GlobSet, path: &Path) -> bool {
    path.file_name().is_some_and(|name| set.is_match(name))
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// `path` relative to `rootdir`, `/`-separated; absolute when outside it.
pub fn relative_id_path(path: &Path, rootdir: &Path) -> String {
    let rel = path.strip_prefix(rootdir).unwrap_or(path);
    let text = rel.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        text.into_owned()
    } else {
        text.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// Answers "is this directory a package?" with one `stat` per directory.
#[derive(Default)]
struct ModuleResolver {
    is_package: HashMap<PathBuf, bool>,
}

impl ModuleResolver {
    fn is_package(&mut self, dir: &Path) -> bool {
        if let Some(&known) = self.is_package.get(dir) {
            return known;
        }
        let answer = dir.join("__init__.py").is_file();
        self.is_package.insert(dir.to_path_buf(), answer);
        answer
    }

    fn test_file(&mut self, path: &Path, rootdir: &Path, is_benchmark: bool) -> TestFile {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut parts = vec![stem];
        let mut dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        while self.is_package(&dir) {
            match dir.file_name() {
                Some(name) => parts.push(name.to_string_lossy().into_owned()),
                None => break,
            }
            match dir.parent() {
                Some(parent) => dir = parent.to_path_buf(),
                None => break,
            }
        }
        parts.reverse();
        TestFile {
            path: path.to_path_buf(),
            rel: relative_id_path(path, rootdir),
            module: parts.join("."),
            import_root: dir,
            is_benchmark,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn norecursedirs_and_ignore_follow_pytest() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in [
            "docs/test_d.py",
            "{arch}/test_no.py",
            "arch/test_yes.py",
            "build/test_b.py",
            "skip_me/test_s.py",
            "gen/test_g.py",
        ] {
            touch(root, rel);
        }
        let options = DiscoveryOptions {
            norecursedirs: vec!["docs".into(), "{arch}".into()],
            ignore: vec![root.join("skip_me")],
            ignore_glob: vec!["*/gen/*".into()],
            ..DiscoveryOptions::new(root.into())
        };
        let files = discover(&[root.to_path_buf()], &options).unwrap();
        assert_eq!(rels(&files), ["arch/test_yes.py", "build/test_b.py"]);
    }

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "").unwrap();
    }

    fn rels(files: &[TestFile]) -> Vec<&str> {
        files.iter().map(|f| f.rel.as_str()).collect()
    }

    #[test]
    fn finds_test_and_bench_files_and_skips_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in [
            "test_a.py",
            "b_test.py",
            "helper.py",
            "bench_x.py",
            "pkg/test_c.py",
            "node_modules/test_no.py",
            "__pycache__/test_no.py",
            ".hidden/test_no.py",
            "build/test_no.py",
            "env/pyvenv.cfg",
            "env/lib/test_no.py",
            "ignored/test_no.py",
            "proj.egg-info/test_no.py",
        ] {
            touch(root, rel);
        }
        fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
        let files = discover(&[root.to_path_buf()], &DiscoveryOptions::new(root.into())).unwrap();
        assert_eq!(
            rels(&files),
            // As pytest: `*.egg-info` is not among its `norecursedirs`.
            [
                "b_test.py",
                "bench_x.py",
                "pkg/test_c.py",
                "proj.egg-info/test_no.py",
                "test_a.py"
            ]
        );
        assert!(files[1].is_benchmark);
        assert!(!files[0].is_benchmark);
    }

    #[test]
    fn resolves_package_module_names_like_pytest_prepend() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        touch(root, "src/app/__init__.py");
        touch(root, "src/app/tests/__init__.py");
        touch(root, "src/app/tests/test_api.py");
        touch(root, "loose/test_b.py");
        let files = discover(&[root.to_path_buf()], &DiscoveryOptions::new(root.into())).unwrap();
        let api = files
            .iter()
            .find(|f| f.rel.ends_with("test_api.py"))
            .unwrap();
        assert_eq!(api.module, "app.tests.test_api");
        assert_eq!(api.import_root, root.join("src"));
        let loose = files.iter().find(|f| f.rel.ends_with("test_b.py")).unwrap();
        assert_eq!(loose.module, "test_b");
        assert_eq!(loose.import_root, root.join("loose"));
    }

    #[test]
    fn explicit_files_are_kept_and_missing_paths_fail() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        touch(root, "checks.py");
        let opts = DiscoveryOptions::new(root.into());
        let files = discover(&[PathBuf::from("checks.py")], &opts).unwrap();
        assert_eq!(rels(&files), ["checks.py"]);
        let err = discover(&[PathBuf::from("nope")], &opts).unwrap_err();
        assert!(matches!(err, DiscoveryError::Missing(_)));
    }
}
