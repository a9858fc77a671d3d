//! What a class is to collection: a `TestCase`, a dbtest `TestSuite`, a plain
//! `Test*` class or no test class, with the methods it defines and inherits.
//! Base classes are followed into the project's other modules (read through
//! [`Project`], never imported); a base that cannot be followed makes the
//! class's tests visible only at import.

use crate::project::{Location, Project};
use crate::resolve::{is_fixture_decorator, is_suite_base, is_testcase_base, Resolver};
use crate::rules::NameRules;
use crate::summary::{ClassDef, FunctionDef};
use std::collections::HashMap;

/// How far a chain of imported base classes is followed.
const MAX_DEPTH: u8 = 8;

/// Methods that set up or tear down a whole class; a class defining any of them
/// keeps its tests on one worker.
const CLASS_FIXTURES: &[&str] = &[
    "setUpClass",
    "tearDownClass",
    "setup_class",
    "teardown_class",
    "setup_suite",
    "teardown_suite",
];

/// What kind of test class a class is, as far as this module shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClassKind {
    TestCase,
    Suite,
    Plain,
    NotTest,
}

/// What a class passes on to its subclasses.
#[derive(Debug, Clone)]
pub(crate) struct ClassInfo {
    base_kind: Option<ClassKind>,
    /// pytest's order: inherited methods not overridden first (the last base's
    /// before the first's, reverse MRO), then the class's own.
    pub methods: Vec<FunctionDef>,
    has_init: bool,
    pub test_flag: Option<bool>,
    /// Some base is defined elsewhere, so inherited tests may be invisible here.
    pub unknown_base: bool,
}

impl ClassInfo {
    /// Takes on what a base class passes down. Bases are taken on in the
    /// order they are written; each one's methods go before those already
    /// here, as pytest collects a class's dictionaries in reverse MRO order.
    fn inherit(&mut self, parent: &ClassInfo) {
        if self.base_kind.is_none() {
            self.base_kind = parent.base_kind;
        }
        let inherited: Vec<FunctionDef> = parent
            .methods
            .iter()
            .filter(|method| !self.methods.iter().any(|m| m.name == method.name))
            .cloned()
            .collect();
        self.methods.splice(0..0, inherited);
        self.has_init |= parent.has_init;
        self.unknown_base |= parent.unknown_base;
        if self.test_flag.is_none() {
            self.test_flag = parent.test_flag;
        }
    }

    /// The kind of `class`, whose info this is, under the project's name rules.
    pub(crate) fn kind(&self, class: &ClassDef, rules: &NameRules) -> ClassKind {
        if self.test_flag == Some(false) {
            return ClassKind::NotTest;
        }
        match self.base_kind {
            Some(kind) => kind,
            // `__test__ = True` makes a class a test class whatever its name.
            None if (rules.is_test_class(&class.name) || self.test_flag == Some(true))
                && !self.has_init =>
            {
                ClassKind::Plain
            }
            None => ClassKind::NotTest,
        }
    }

    /// Whether the class has class-level set-up (`setUpClass`, `setup_class`,
    /// `setup_suite`, a fixture method), so its tests must stay on one worker.
    /// A base from another module may define one we cannot see.
    pub(crate) fn has_class_setup(&self, resolver: &Resolver) -> bool {
        self.unknown_base
            || self
                .methods
                .iter()
                .any(|m| CLASS_FIXTURES.contains(&m.name.as_str()) || is_fixture(m, resolver))
    }
}

/// Whether a decorator makes `function` a fixture (never a test, whatever its name).
pub(crate) fn is_fixture(function: &FunctionDef, resolver: &Resolver) -> bool {
    function
        .decorators
        .iter()
        .any(|d| is_fixture_decorator(&resolver.resolve(&d.path)))
}

/// What `class` is and has, given the classes defined before it in its module
/// (`known`) and, through `project`, classes imported from the project's other
/// modules.
pub(crate) fn class_info(
    class: &ClassDef,
    known: &HashMap<String, ClassInfo>,
    resolver: &Resolver,
    project: &Project,
    location: &Location,
    depth: u8,
) -> ClassInfo {
    let mut info = ClassInfo {
        base_kind: None,
        methods: class.methods.clone(),
        has_init: class.has_init,
        test_flag: class.test_flag,
        unknown_base: false,
    };
    for base in &class.bases {
        if base.is_empty() {
            info.unknown_base = true;
            continue;
        }
        if let Some(parent) = known.get(base.as_str()) {
            info.inherit(parent);
            continue;
        }
        let qualified = resolver.resolve(base);
        if is_testcase_base(&qualified) {
            info.base_kind.get_or_insert(ClassKind::TestCase);
        } else if is_suite_base(&qualified) {
            info.base_kind.get_or_insert(ClassKind::Suite);
        } else if matches!(
            qualified.as_str(),
            "object" | "abc.ABC" | "typing.Generic" | "Generic"
        ) {
        } else if let Some(parent) = external_class(project, &qualified, location, depth + 1) {
            info.inherit(&parent);
        } else {
            info.unknown_base = true;
        }
    }
    info
}

/// What the class `qualified` (`.base.BaseTest`, `tests.base.BaseTest`) is,
/// if it is defined in a module of the project.
fn external_class(
    project: &Project,
    qualified: &str,
    from: &Location,
    depth: u8,
) -> Option<ClassInfo> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (module, name) = qualified.rsplit_once('.')?;
    let path = from.module_file(module)?;
    let summary = project.summary(&path)?;
    let location = Location {
        path: path.clone(),
        import_root: from.import_root.clone(),
    };
    let resolver = Resolver::new(&summary);
    if summary.classes.iter().any(|c| c.name == name) {
        let mut known: HashMap<String, ClassInfo> = HashMap::new();
        for class in &summary.classes {
            let info = class_info(class, &known, &resolver, project, &location, depth);
            if class.name == name {
                return Some(info);
            }
            known.insert(class.name.clone(), info);
        }
    }
    // Re-exported: `from .base import BaseTest` in a package's __init__.
    let target = resolver.resolve(name);
    (target != name).then(|| external_class(project, &target, &location, depth + 1))?
}
