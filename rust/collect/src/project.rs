//! The project around the test files: other modules whose classes test classes
//! inherit from (`from .base import BaseTest`). They are read and summarised on
//! demand, once, and never imported.

use crate::items::{class_info, ClassInfo, Resolver};
use crate::parametrize::IdOptions;
use crate::parse::summarize;
use crate::rules::NameRules;
use crate::summary::ModuleSummary;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How far a chain of imported base classes is followed.
const MAX_DEPTH: u8 = 8;

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
    /// pytest's settings that shape parametrized ids.
    pub id_options: IdOptions,
    /// Which names are tests.
    pub name_rules: NameRules,
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

    fn summary(&self, path: &Path) -> Option<Arc<ModuleSummary>> {
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

    /// What the class `qualified` (`.base.BaseTest`, `tests.base.BaseTest`) is,
    /// if it is defined in a module of the project.
    pub(crate) fn external_class(
        &self,
        qualified: &str,
        from: &Location,
        depth: u8,
    ) -> Option<ClassInfo> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (module, name) = qualified.rsplit_once('.')?;
        let path = module_file(module, from)?;
        let summary = self.summary(&path)?;
        let location = Location {
            path: path.clone(),
            import_root: from.import_root.clone(),
        };
        let resolver = Resolver::new(&summary);
        if summary.classes.iter().any(|c| c.name == name) {
            let mut known: HashMap<String, ClassInfo> = HashMap::new();
            for class in &summary.classes {
                let info = class_info(class, &known, &resolver, self, &location, depth);
                if class.name == name {
                    return Some(info);
                }
                known.insert(class.name.clone(), info);
            }
        }
        // Re-exported: `from .base import BaseTest` in a package's __init__.
        let target = resolver.resolve(name);
        (target != name).then(|| self.external_class(&target, &location, depth + 1))?
    }
}

/// The file of `module` (`.base`, `..helpers.base`, `tests.base`) as imported
/// from `from`, if it is in the project.
fn module_file(module: &str, from: &Location) -> Option<PathBuf> {
    let dots = module.chars().take_while(|c| *c == '.').count();
    let rest = &module[dots..];
    let base = if dots > 0 {
        let mut dir = from.path.parent()?.to_path_buf();
        for _ in 1..dots {
            dir = dir.parent()?.to_path_buf();
        }
        dir
    } else {
        from.import_root.clone()
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
