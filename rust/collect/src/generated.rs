//! Cases that fixtures and hooks make. pytest parametrizes a test through its
//! fixture closure too: a fixture declared with `params=` gives each test that
//! uses it (directly, through another fixture, `usefixtures` or `autouse`) one
//! case per value, and a `pytest_generate_tests` hook may parametrize any test.
//! Which tests a closure reaches is only known at import, so a pytest-style
//! test module where such a fixture or hook is in reach (the module itself, or
//! a `conftest.py` between it and the rootdir) is left to the worker, which
//! reports the cases it makes; listing and selection then see them.

use crate::project::Project;
use crate::resolve::{is_fixture_decorator, Resolver};
use crate::summary::{FunctionDef, ModuleSummary};
use dbtest_model::TestFile;
use std::path::Path;

const HOOK: &str = "pytest_generate_tests";

/// Whether `summary` defines a parametrized fixture or a
/// `pytest_generate_tests` hook, at module level or in a class.
pub(crate) fn defines_case_makers(summary: &ModuleSummary) -> bool {
    let resolver = Resolver::new(summary);
    let makes_cases = |f: &FunctionDef| {
        f.name == HOOK
            || f.decorators.iter().any(|d| {
                d.kwarg("params").is_some() && is_fixture_decorator(&resolver.resolve(&d.path))
            })
    };
    fn in_classes(
        classes: &[crate::summary::ClassDef],
        makes_cases: &dyn Fn(&FunctionDef) -> bool,
    ) -> bool {
        classes
            .iter()
            .any(|c| c.methods.iter().any(makes_cases) || in_classes(&c.nested, makes_cases))
    }
    summary.functions.iter().any(makes_cases) || in_classes(&summary.classes, &makes_cases)
}

/// Whether a `conftest.py` in the directory of `file` or one above it, up to
/// the rootdir, defines a parametrized fixture or a `pytest_generate_tests` hook.
pub(crate) fn conftests_make_cases(file: &TestFile, project: &Project) -> bool {
    let depth = file.rel.split('/').count();
    // `rel` is the file's path under the rootdir: as many parents up as it has parts.
    let Some(rootdir) = file.path.ancestors().nth(depth) else {
        return false;
    };
    let mut dir: Option<&Path> = file.path.parent();
    while let Some(current) = dir {
        if project.conftest_makes_cases(current) {
            return true;
        }
        if current == rootdir {
            break;
        }
        dir = current.parent();
    }
    false
}
