//! The project around the test files: its collection settings, and the other
//! modules whose classes test classes inherit from (`from .base import
//! BaseTest`). They are read and summarised on demand, once, and never
//! imported; `classes.rs` follows the bases through them. And the
//! `conftest.py` files above the test files, for the cases their fixtures and
//! hooks make (`generated.rs`).

use crate::parametrize::IdOptions;
use crate::parse::summarize;
use crate::rules::NameRules;
use crate::summary::ModuleSummary;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a module lives, to resolve its imports.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    pub path: PathBuf,
    /// The `sys.path` entry its absolute imports resolve against.
    pub import_root: PathBuf,
}

/// What collection needs to know of the project: its settings, and summaries of
/// its modules (shared by the collecting threads).
#[derive(Default)]
pub struct Project {
    summaries: Mutex<HashMap<PathBuf, Option<Arc<ModuleSummary>>>>,
    /// Directory → whether its `conftest.py` makes cases (see `generated.rs`).
    conftest_cases: Mutex<HashMap<PathBuf, bool>>,
    /// pytest's settings that shape parametrized ids.
    pub id_options: IdOptions,
    /// Which names are tests.
    pub name_rules: NameRules,
    /// Also list every import of each test file ([`FileCollection::imports`](crate::FileCollection::imports)),
    /// for the import graph (`--changed`).
    pub scan_imports: bool,
}

impl Project {
    pub fn new() -> Project {
        Project::default()
    }

    pub fn with_rules(id_options: IdOptions, name_rules: NameRules) -> Project {
        Project {
            id_options,
            name_rules,
            ..Project::default()
        }
    }

    /// Whether the `conftest.py` of `dir` (if it has one) defines a
    /// parametrized fixture or a `pytest_generate_tests` hook; read once.
    pub(crate) fn conftest_makes_cases(&self, dir: &Path) -> bool {
        if let Ok(known) = self.conftest_cases.lock() {
            if let Some(&makes) = known.get(dir) {
                return makes;
            }
        }
        let makes = self
            .summary(&dir.join("conftest.py"))
            .is_some_and(|s| crate::generated::defines_case_makers(&s));
        if let Ok(mut known) = self.conftest_cases.lock() {
            known.insert(dir.to_path_buf(), makes);
        }
        makes
    }

    /// The summary of the module at `path`, read once (`None` if it cannot be
    /// read or parsed).
    pub(crate) fn summary(&self, path: &Path) -> Option<Arc<ModuleSummary>> {
        if let Some(known) = self.summaries.lock().ok()?.get(path) {
            return known.clone();
        }
        let summary = std::fs::read(path)
            .ok()
            .and_then(|bytes| summarize(&String::from_utf8_lossy(&bytes)).ok())
            .map(Arc::new);
        self.summaries
            .lock()
            .ok()?
            .insert(path.to_path_buf(), summary.clone());
        summary
    }
}

impl Location {
    /// The file of `module` (`.base`, `..helpers.base`, `tests.base`) as imported
    /// from here, if it is in the project.
    pub(crate) fn module_file(&self, module: &str) -> Option<PathBuf> {
        let dots = module.chars().take_while(|c| *c == '.').count();
        let rest = &module[dots..];
        let base = if dots > 0 {
            let mut dir = self.path.parent()?.to_path_buf();
            for _ in 1..dots {
                dir = dir.parent()?.to_path_buf();
            }
            dir
        } else {
            self.import_root.clone()
        };
        let mut path = base;
        for part in rest.split('.').filter(|p| !p.is_empty()) {
            path.push(part);
        }
        let as_file = path.with_extension("py");
        if !rest.is_empty() && as_file.is_file() {
            return Some(as_file);
        }
        let as_package = path.join("__init__.py");
        as_package.is_file().then_some(as_package)
    }
}
