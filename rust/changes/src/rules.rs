//! Which changes the import graph can trace, and which concern every test.
//!
//! The rule, as the user guide states it:
//! - changes outside the project (the rootdir), in directories the walk skips
//!   (`norecursedirs`: hidden directories, `build`, virtualenvs...,
//!   `__pycache__`) and compiled bytecode (`*.pyc`) are not the project's;
//! - a changed, added, renamed or deleted Python module (`*.py`) selects the
//!   tests that import it, directly or not;
//! - a change to a `conftest.py`, to a configuration file (`pyproject.toml`,
//!   `pytest.ini`, `tox.ini`, `setup.cfg`) or to any other non-Python file
//!   (data, fixtures, templates a test may read) selects everything.

use crate::git::Change;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// Files pytest or dbtest read their configuration from.
const CONFIG_FILES: [&str; 4] = ["pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg"];

/// What a set of changes means for the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every test: why, in words (`pyproject.toml changed (configuration)`).
    Everything(String),
    /// The tests that import these Python files (absolute paths; deleted ones
    /// included), directly or not.
    Modules(Vec<PathBuf>),
}

/// Where the project is, and what is not the project's.
#[derive(Debug, Clone)]
pub struct ProjectBounds {
    pub rootdir: PathBuf,
    /// Directory name patterns the walk skips (pytest's `norecursedirs`).
    pub norecursedirs: Vec<String>,
    /// dbtest's cache directory, if any.
    pub cache_dir: Option<PathBuf>,
}

impl ProjectBounds {
    fn skipped_dirs(&self) -> GlobSet {
        let mut builder = GlobSetBuilder::new();
        for pattern in &self.norecursedirs {
            // A pattern that is not a valid glob skips nothing here; discovery
            // reports it.
            if let Ok(glob) = Glob::new(pattern) {
                builder.add(glob);
            }
        }
        builder.build().unwrap_or_else(|_| GlobSet::empty())
    }

    /// Whether a change at `path` belongs to the project (not in a skipped
    /// directory, not bytecode, not dbtest's cache).
    pub fn concerns(&self, path: &Path) -> bool {
        self.owns(path, &self.skipped_dirs())
    }

    fn owns(&self, path: &Path, skipped: &GlobSet) -> bool {
        let Ok(rel) = path.strip_prefix(&self.rootdir) else {
            return false;
        };
        if self.cache_dir.as_ref().is_some_and(|c| path.starts_with(c)) {
            return false;
        }
        if path.extension().is_some_and(|e| e == "pyc" || e == "pyo") {
            return false;
        }
        let mut dir = self.rootdir.clone();
        let parents: Vec<_> = rel
            .parent()
            .map(|p| p.components().collect())
            .unwrap_or_default();
        for part in parents {
            let name = part.as_os_str();
            dir.push(name);
            if name == "__pycache__" || skipped.is_match(name) || dir.join("pyvenv.cfg").is_file() {
                return false;
            }
        }
        true
    }
}

/// What `changes` mean for the selection.
pub fn scope(changes: &[Change], bounds: &ProjectBounds) -> Scope {
    let skipped = bounds.skipped_dirs();
    let mut modules = Vec::new();
    for change in changes {
        let path = &change.path;
        if !bounds.owns(path, &skipped) {
            continue;
        }
        let rel = path
            .strip_prefix(&bounds.rootdir)
            .unwrap_or(path)
            .display()
            .to_string();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "conftest.py" {
            return Scope::Everything(format!(
                "{rel} changed (a conftest.py applies to many tests)"
            ));
        }
        if CONFIG_FILES.contains(&name.as_str()) {
            return Scope::Everything(format!("{rel} changed (configuration)"));
        }
        if path.extension().is_some_and(|e| e == "py") {
            modules.push(path.clone());
        } else {
            return Scope::Everything(format!(
                "{rel} changed (not a Python module: tests may read it)"
            ));
        }
    }
    Scope::Modules(modules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::Status;

    fn bounds() -> ProjectBounds {
        ProjectBounds {
            rootdir: "/repo/proj".into(),
            norecursedirs: vec![".*".into(), "build".into()],
            cache_dir: Some("/repo/proj/.dbtest".into()),
        }
    }

    fn changes(paths: &[&str]) -> Vec<Change> {
        paths
            .iter()
            .map(|p| Change {
                path: PathBuf::from("/repo/proj").join(p),
                status: Status::Modified,
            })
            .collect()
    }

    #[test]
    fn python_modules_are_traced() {
        assert_eq!(
            scope(
                &changes(&["pkg/core.py", "pkg/__pycache__/core.cpython-311.pyc"]),
                &bounds()
            ),
            Scope::Modules(vec!["/repo/proj/pkg/core.py".into()])
        );
    }

    #[test]
    fn conftest_config_and_other_files_select_everything() {
        for (file, why) in [
            ("tests/conftest.py", "conftest"),
            ("pyproject.toml", "configuration"),
            ("tox.ini", "configuration"),
            ("data/cases.json", "not a Python module"),
        ] {
            match scope(&changes(&["pkg/core.py", file]), &bounds()) {
                Scope::Everything(reason) => {
                    assert!(reason.starts_with(file) && reason.contains(why), "{reason}")
                }
                other => panic!("{file}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_is_not_the_project_is_ignored() {
        let mut outside = changes(&[
            ".github/workflows/ci.yml",
            "build/x.txt",
            ".dbtest/durations.json",
        ]);
        outside.push(Change {
            path: "/repo/README.md".into(),
            status: Status::Modified,
        });
        assert_eq!(scope(&outside, &bounds()), Scope::Modules(Vec::new()));
    }
}
