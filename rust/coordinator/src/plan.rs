//! From the selection to the runner's plan: `--lf`/`--ff`, static skips,
//! grouping by module, and results known before anything runs.

use crate::cache::DurationIndex;
use crate::pipeline::{Collected, Selection};
use dbtest_config::Settings;
use dbtest_model::{ErrorKind, Outcome, Phase, TestResult};
use dbtest_protocol::ModuleRef;
use dbtest_runner::{Plan, PlannedModule, PlannedTest};
use std::collections::{BTreeSet, HashSet};

/// Collection errors as results (they count as errors of the run).
pub(crate) fn collection_error_results(collected: &Collected) -> Vec<TestResult> {
    collected
        .errors
        .iter()
        .map(|err| {
            let mut result = TestResult::new(err.rel.clone(), Outcome::Error, Phase::Import);
            result.error_kind = Some(ErrorKind::Collection);
            result.message = Some(if err.line > 0 {
                format!("{} (line {}, column {})", err.message, err.line, err.column)
            } else {
                err.message.clone()
            });
            result
        })
        .collect()
}

/// What `--lf`/`--ff` make of the selection.
pub(crate) struct Rerun {
    /// The selected items to run, in collection order.
    pub items: Vec<usize>,
    /// Files to import only to find tests the static pass could not see.
    pub probes: Vec<usize>,
    /// Ids of last run's failures, when only those run (`--lf`).
    pub only: Option<BTreeSet<String>>,
    /// Ids of last run's failures, to start with (`--ff`).
    pub first: BTreeSet<String>,
    pub note: Option<String>,
}

pub(crate) fn apply_last_failed(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
    failed: &BTreeSet<String>,
) -> Rerun {
    let mut rerun = Rerun {
        items: selection.items.clone(),
        probes: selection.probes.clone(),
        only: None,
        first: BTreeSet::new(),
        note: None,
    };
    if settings.failed_first {
        rerun.first = failed.clone();
    }
    if !settings.last_failed {
        return rerun;
    }
    let static_ids: HashSet<&str> = collected.items.iter().map(|i| &*i.id).collect();
    let items: Vec<usize> = selection
        .items
        .iter()
        .copied()
        .filter(|&i| failed.contains(&*collected.items[i].id))
        .collect();
    // Failures among tests only an import reveals: import their files again.
    let probes: Vec<usize> = (0..collected.files.len())
        .filter(|&f| {
            let prefix = format!("{}::", collected.files[f].rel);
            failed
                .iter()
                .any(|id| id.starts_with(&prefix) && !static_ids.contains(id.as_str()))
        })
        .collect();
    if items.is_empty() && probes.is_empty() {
        rerun.note = Some(if failed.is_empty() {
            "no failures recorded: running all selected tests".into()
        } else {
            "none of last run's failures is selected: running all selected tests".into()
        });
        return rerun;
    }
    rerun.note = Some(format!(
        "rerunning the tests that failed last time ({} recorded)",
        failed.len()
    ));
    rerun.items = items;
    rerun.probes = probes;
    rerun.only = Some(failed.clone());
    rerun
}

/// The file `f` as a module of a plan, with no tests yet. `whole`: its tests
/// stay on one worker (module-level set-up).
pub(crate) fn planned_module(collected: &Collected, f: usize, run_unlisted: bool) -> PlannedModule {
    let file = &collected.files[f];
    PlannedModule {
        rel: file.rel.clone(),
        module: ModuleRef {
            path: file.path.to_string_lossy().into_owned(),
            name: file.module.clone(),
            import_root: file.import_root.to_string_lossy().into_owned(),
        },
        tests: Vec::new(),
        run_unlisted,
        unplanned: Vec::new(),
        first: false,
        whole: collected.module_setup.get(f).copied().unwrap_or(false),
    }
}

/// Groups the tests to run by module; statically skipped tests never reach a
/// worker (and never cause an import). Every module a run imports reports the
/// tests only its import shows (cases of parametrized fixtures, tests made in
/// loops): selection, node ids included, decides which of those run. A
/// module's static tests that do not run are named on it
/// ([`PlannedModule::unplanned`]), so that its worker reports only the others.
pub(crate) fn build_plan(
    collected: &Collected,
    rerun: &Rerun,
    durations: &DurationIndex,
) -> (Plan, Vec<TestResult>) {
    let mut modules: Vec<Option<PlannedModule>> = vec![None; collected.files.len()];
    let mut skipped = Vec::new();
    let mut planned = vec![false; collected.items.len()];
    for &i in &rerun.items {
        let item = &collected.items[i];
        if let Some(reason) = item.skip() {
            let mut result = TestResult::new(item.id.to_string(), Outcome::Skipped, Phase::Setup);
            result.message = Some(reason.to_string());
            skipped.push(result);
            continue;
        }
        let module =
            modules[item.file].get_or_insert_with(|| planned_module(collected, item.file, true));
        module.first |= rerun.first.contains(&*item.id);
        planned[i] = true;
        module.tests.push(PlannedTest {
            name: item.name().into(),
            group: item.shared_class().map(Box::from),
            timeout: item.timeout(),
            estimate: durations.get(&item.id),
        });
    }
    for &f in &rerun.probes {
        modules[f]
            .get_or_insert_with(|| planned_module(collected, f, true))
            .run_unlisted = true;
    }
    // A module imported to find more tests knows all its static ones, so that
    // its worker reports only those the static pass missed.
    for (item, _) in collected.items.iter().zip(&planned).filter(|(_, p)| !**p) {
        if let Some(module) = modules[item.file].as_mut().filter(|m| m.run_unlisted) {
            module.unplanned.push(item.name().to_string());
        }
    }
    (
        Plan {
            modules: modules.into_iter().flatten().collect(),
        },
        skipped,
    )
}

/// `--changed`'s order: modules holding last run's failures first, then the
/// others by recorded duration, shortest first; within a module, failures
/// first, then the shortest (a class that must stay together keeps its place).
/// A test never timed counts as the mean of those that were.
pub(crate) fn order_for_feedback(plan: &mut Plan, failed: &BTreeSet<String>) {
    let mean = dbtest_model::mean_duration(
        plan.modules
            .iter()
            .flat_map(|m| m.tests.iter().filter_map(|t| t.estimate)),
    )
    .unwrap_or(0.0);
    let estimate = |t: &PlannedTest| t.estimate.unwrap_or(mean);
    for module in &mut plan.modules {
        let prefix = format!("{}::", module.rel);
        let failed_here = |t: &PlannedTest| failed.contains(&format!("{prefix}{}", t.name));
        module.first = module.tests.iter().any(failed_here);
        let slots: Vec<usize> = (0..module.tests.len())
            .filter(|&i| module.tests[i].group.is_none())
            .collect();
        let mut loose: Vec<PlannedTest> = slots.iter().map(|&i| module.tests[i].clone()).collect();
        loose.sort_by(|a, b| {
            failed_here(b)
                .cmp(&failed_here(a))
                .then(estimate(a).total_cmp(&estimate(b)))
        });
        for (slot, test) in slots.into_iter().zip(loose) {
            module.tests[slot] = test;
        }
    }
    let total = |m: &PlannedModule| m.tests.iter().map(estimate).sum::<f64>();
    plan.modules
        .sort_by(|a, b| b.first.cmp(&a.first).then(total(a).total_cmp(&total(b))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbtest_model::{StaticMarks, Style, TestFile, TestItem};

    /// `test_mod.py` with `test_keep` (selected), `test_drop` (not selected)
    /// and `test_skip` (selected, statically skipped).
    fn collected() -> Collected {
        let mut skip = TestItem::new("test_mod.py", "test_skip", None, 0, Style::Function);
        skip.set_marks(StaticMarks {
            skip: Some("not today".into()),
            ..StaticMarks::default()
        });
        Collected {
            files: vec![TestFile {
                path: "/project/test_mod.py".into(),
                rel: "test_mod.py".into(),
                module: "test_mod".into(),
                import_root: "/project".into(),
                is_benchmark: false,
            }],
            imports_pytest: vec![false],
            dynamic: vec![true],
            module_setup: vec![false],
            items: vec![
                TestItem::new("test_mod.py", "test_keep", None, 0, Style::Function),
                TestItem::new("test_mod.py", "test_drop", None, 0, Style::Function),
                skip,
            ],
            errors: Vec::new(),
            imports: vec![None],
        }
    }

    fn rerun() -> Rerun {
        Rerun {
            items: vec![0, 2],
            probes: Vec::new(),
            only: None,
            first: BTreeSet::new(),
            note: None,
        }
    }

    #[test]
    fn a_module_knows_its_static_tests_that_do_not_run() {
        let (plan, early) = build_plan(&collected(), &rerun(), &DurationIndex::default());
        let module = &plan.modules[0];
        let names: Vec<&str> = module.tests.iter().map(|t| &*t.name).collect();
        assert_eq!(names, ["test_keep"]);
        assert!(module.run_unlisted);
        assert_eq!(module.unplanned, ["test_drop", "test_skip"]);
        assert_eq!(
            early.len(),
            1,
            "the static skip is reported without a worker"
        );
    }

    fn planned(rel: &str, tests: &[(&str, Option<f64>)]) -> PlannedModule {
        let mut module = build_plan(&collected(), &rerun(), &DurationIndex::default())
            .0
            .modules
            .remove(0);
        module.rel = rel.into();
        module.tests = tests
            .iter()
            .map(|(name, estimate)| PlannedTest {
                name: (*name).into(),
                group: None,
                timeout: None,
                estimate: *estimate,
            })
            .collect();
        module
    }

    #[test]
    fn feedback_order_is_failures_first_then_shortest() {
        let mut plan = Plan {
            modules: vec![
                planned("slow.py", &[("a", Some(3.0)), ("b", Some(1.0))]),
                planned("fast.py", &[("c", Some(0.5)), ("d", Some(0.1))]),
                planned("broken.py", &[("e", Some(0.2)), ("f", Some(9.0))]),
            ],
        };
        let failed: BTreeSet<String> = ["broken.py::f".to_string()].into();
        order_for_feedback(&mut plan, &failed);
        let order: Vec<String> = plan
            .modules
            .iter()
            .flat_map(|m| {
                m.tests
                    .iter()
                    .map(move |t| format!("{}::{}", m.rel, t.name))
            })
            .collect();
        assert_eq!(
            order,
            [
                "broken.py::f",
                "broken.py::e",
                "fast.py::d",
                "fast.py::c",
                "slow.py::b",
                "slow.py::a"
            ]
        );
        assert!(plan.modules[0].first && !plan.modules[1].first);
    }
}
