//! `dbtest merge`: one report from the reports of a CI matrix's shards.
//!
//! Merging refuses rather than guesses: a test id in two reports means the
//! shards disagreed on the partition (different selections or durations
//! files) or a report was given twice; a missing shard means a job's report
//! was lost, and a merged report without it would look green while having
//! run only part of the suite. Reports that record their plan (see
//! [`PlanInfo`]) are checked further: shards must agree on the selection and
//! their plans must add up to it, and [`unreported`] names the tests that were
//! planned (or found at import for another shard) but ran nowhere.

use crate::json::{PlanInfo, RunInfo, RunReport, ShardInfo, TestReport};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Why reports cannot be merged. One line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no reports to merge")]
    Empty,
    #[error("test {id} appears in both {first} and {second}")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
    #[error("{first} and {second} are both shard {shard}")]
    DuplicateShard {
        shard: ShardInfo,
        first: String,
        second: String,
    },
    #[error("{}", missing_message(.missing))]
    MissingShards { missing: Vec<ShardInfo> },
    #[error(
        "{first} is shard {first_shard} but {second} is shard {second_shard}: the totals differ"
    )]
    MismatchedTotals {
        first: String,
        first_shard: ShardInfo,
        second: String,
        second_shard: ShardInfo,
    },
    #[error("{sharded} is shard {shard} but {unsharded} is not a shard report")]
    MixedSharding {
        sharded: String,
        shard: ShardInfo,
        unsharded: String,
    },
    #[error("{}", selection_message(.first, *.first_selected, .second, *.second_selected))]
    SelectionDiffers {
        first: String,
        first_selected: u64,
        second: String,
        second_selected: u64,
    },
    #[error(
        "the shards planned {} but the selection holds {selected}: they split it \
         differently (give every shard the same durations file and --shard-mode)",
        dbtest_model::counted(*planned, "test", "tests")
    )]
    PlansDoNotAddUp { planned: u64, selected: u64 },
}

fn selection_message(first: &str, first_n: u64, second: &str, second_n: u64) -> String {
    let tests = |n: u64| dbtest_model::counted(n, "test", "tests");
    let what = if first_n == second_n {
        format!("{first} and {second} selected different tests ({first_n} each)")
    } else {
        format!(
            "{first} selected {} but {second} selected {second_n}",
            tests(first_n)
        )
    };
    format!("{what}: run every shard with the same arguments on the same files")
}

fn missing_message(missing: &[ShardInfo]) -> String {
    let list: Vec<String> = missing.iter().map(ShardInfo::to_string).collect();
    let noun = if missing.len() == 1 {
        "shard"
    } else {
        "shards"
    };
    format!("missing {noun} {}", list.join(", "))
}

/// Merges reports named `report 1`, `report 2`, … in errors.
pub fn merge(reports: Vec<RunReport>) -> Result<RunReport, MergeError> {
    merge_named(
        reports
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("report {}", i + 1), r))
            .collect(),
    )
}

/// Merges reports, each with the name errors call it by (its file name).
///
/// If the reports carry shard information, all must, with one total N, and
/// together they must be shards 1 to N, each once; they are then combined in
/// shard order. Reports without shard information (a unit run and an
/// integration run, say) are combined in the order given. The merged report
/// has no shard; its totals are recomputed from the tests.
pub fn merge_named(reports: Vec<(String, RunReport)>) -> Result<RunReport, MergeError> {
    if reports.is_empty() {
        return Err(MergeError::Empty);
    }
    let mut reports = reports;
    check_shards(&reports)?;
    // Stable: unsharded reports keep their order.
    reports.sort_by_key(|(_, r)| r.run.shard.map(|s| s.index));

    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, (_, report)) in reports.iter().enumerate() {
        for test in &report.tests {
            if let Some(&first) = seen.get(&test.id) {
                return Err(MergeError::Duplicate {
                    id: test.id.clone(),
                    first: reports[first].0.clone(),
                    second: reports[i].0.clone(),
                });
            }
            seen.insert(test.id.clone(), i);
        }
    }

    let run = merged_run(reports.iter().map(|(_, r)| &r.run).collect());
    let merged_start = chrono::DateTime::parse_from_rfc3339(&run.started_at).ok();
    let mut tests: Vec<TestReport> = Vec::new();
    for (position, (_, report)) in reports.into_iter().enumerate() {
        // Start times move to the merged run's clock; worker slots stay per shard.
        let offset = match (
            merged_start,
            chrono::DateTime::parse_from_rfc3339(&report.run.started_at),
        ) {
            (Some(merged), Ok(own)) => {
                (own.timestamp_micros() - merged.timestamp_micros()) as f64 / 1e6
            }
            _ => 0.0,
        };
        let shard = report.run.shard.map_or(position as u32 + 1, |s| s.index);
        tests.extend(report.tests.into_iter().map(|mut test| {
            test.start = test.start.map(|s| crate::json::finite(s + offset));
            for attempt in &mut test.previous_attempts {
                attempt.start = attempt.start.map(|s| crate::json::finite(s + offset));
            }
            test.shard = Some(shard);
            test
        }));
    }
    Ok(RunReport::new(run, tests))
}

fn check_shards(reports: &[(String, RunReport)]) -> Result<(), MergeError> {
    let sharded = reports
        .iter()
        .find_map(|(name, r)| r.run.shard.map(|s| (name, s)));
    let Some((first_name, first_shard)) = sharded else {
        return Ok(());
    };
    let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
    for (name, report) in reports {
        let Some(shard) = report.run.shard else {
            return Err(MergeError::MixedSharding {
                sharded: first_name.clone(),
                shard: first_shard,
                unsharded: name.clone(),
            });
        };
        if shard.total != first_shard.total {
            return Err(MergeError::MismatchedTotals {
                first: first_name.clone(),
                first_shard,
                second: name.clone(),
                second_shard: shard,
            });
        }
        if let Some(first) = by_index.insert(shard.index, name) {
            return Err(MergeError::DuplicateShard {
                shard,
                first: first.to_string(),
                second: name.clone(),
            });
        }
    }
    let total = first_shard.total;
    let missing: Vec<ShardInfo> = (1..=total)
        .filter(|i| !by_index.contains_key(i))
        .map(|index| ShardInfo { index, total })
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards { missing });
    }
    check_plans(reports)
}

/// Shards that recorded their plans agree on the selection, and when all did,
/// their plans add up to it.
fn check_plans(reports: &[(String, RunReport)]) -> Result<(), MergeError> {
    let plans: Vec<(&String, &PlanInfo)> = reports
        .iter()
        .filter_map(|(name, r)| r.plan.as_ref().map(|p| (name, p)))
        .collect();
    let Some(&(first_name, first)) = plans.first() else {
        return Ok(());
    };
    for &(name, plan) in &plans[1..] {
        if (plan.selected, &plan.selection_digest) != (first.selected, &first.selection_digest) {
            return Err(MergeError::SelectionDiffers {
                first: first_name.clone(),
                first_selected: first.selected,
                second: name.clone(),
                second_selected: plan.selected,
            });
        }
    }
    let planned: u64 = plans.iter().map(|(_, p)| p.planned.len() as u64).sum();
    if plans.len() == reports.len() && planned != first.selected {
        return Err(MergeError::PlansDoNotAddUp {
            planned,
            selected: first.selected,
        });
    }
    Ok(())
}

/// A test that a report expected to run somewhere and that has no result in
/// any of the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreported {
    pub id: String,
    /// The name of the report that planned it, or found it at import and left
    /// it to another shard.
    pub expected_by: String,
}

/// The tests the reports planned, or found at import for another shard, that
/// have no result in any of them, each once, in report order. Tests of a run
/// that stopped early (Ctrl-C, `--maxfail`) are expected to be missing and
/// not listed; a test left to another shard is not listed when any run
/// stopped early. Reports without a plan expect nothing.
pub fn unreported(reports: &[(String, RunReport)]) -> Vec<Unreported> {
    let stopped_early = |r: &RunReport| r.run.interrupted || r.run.not_run > 0;
    let any_stopped = reports.iter().any(|(_, r)| stopped_early(r));
    let reported: HashSet<&str> = reports
        .iter()
        .flat_map(|(_, r)| r.tests.iter().map(|t| t.id.as_str()))
        .collect();
    // Planned tests a module turned out not to define have no result anywhere.
    let mut named: HashSet<&str> = reports
        .iter()
        .filter_map(|(_, r)| r.plan.as_ref())
        .flat_map(|p| p.withdrawn.iter().map(String::as_str))
        .collect();
    let mut missing = Vec::new();
    for (name, report) in reports {
        let Some(plan) = &report.plan else { continue };
        let planned = (!stopped_early(report)).then_some(&plan.planned);
        let elsewhere = (!any_stopped).then_some(&plan.elsewhere);
        for id in planned.into_iter().chain(elsewhere).flatten() {
            if !reported.contains(id.as_str()) && named.insert(id.as_str()) {
                missing.push(Unreported {
                    id: id.clone(),
                    expected_by: name.clone(),
                });
            }
        }
    }
    missing
}

/// The run as a whole: from the earliest start to the latest end (shards run
/// side by side, so this is the matrix's wall time), workers added up.
fn merged_run(runs: Vec<&RunInfo>) -> RunInfo {
    let parsed: Option<Vec<(chrono::DateTime<chrono::FixedOffset>, f64)>> = runs
        .iter()
        .map(|r| {
            chrono::DateTime::parse_from_rfc3339(&r.started_at)
                .ok()
                .map(|t| (t, r.duration))
        })
        .collect();
    let (started_at, duration) = match parsed.filter(|p| !p.is_empty()) {
        Some(parsed) => {
            let start = parsed.iter().map(|p| p.0).min().unwrap_or_default();
            let end = parsed
                .iter()
                .map(|(t, d)| {
                    let offset = (t.timestamp_micros() - start.timestamp_micros()) as f64 / 1e6;
                    offset + d
                })
                .fold(0.0, f64::max);
            (
                start
                    .with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                end,
            )
        }
        // Unreadable timestamps: the first report's start, the longest shard.
        None => (
            runs.first()
                .map(|r| r.started_at.clone())
                .unwrap_or_default(),
            runs.iter().map(|r| r.duration).fold(0.0, f64::max),
        ),
    };
    let distinct = |values: Vec<&str>| {
        let mut unique: Vec<&str> = Vec::new();
        for v in values {
            if !unique.contains(&v) {
                unique.push(v);
            }
        }
        unique.join(", ")
    };
    let python = distinct(runs.iter().filter_map(|r| r.python.as_deref()).collect());
    let stopped = distinct(runs.iter().filter_map(|r| r.stopped.as_deref()).collect());
    RunInfo {
        started_at,
        duration: crate::json::finite(duration),
        workers: runs.iter().map(|r| r.workers).sum(),
        shard: None,
        interrupted: runs.iter().any(|r| r.interrupted),
        not_run: runs.iter().map(|r| r.not_run).sum(),
        stopped: (!stopped.is_empty()).then_some(stopped),
        dbtest_version: distinct(runs.iter().map(|r| r.dbtest_version.as_str()).collect()),
        python: (!python.is_empty()).then_some(python),
        flaky_fails: runs.iter().any(|r| r.flaky_fails),
        // Shards of one matrix share the seed they were given.
        seed: runs.iter().find_map(|r| r.seed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::sample;
    use dbtest_model::Outcome;

    fn shard(index: u32, total: u32, ids: &[&str]) -> RunReport {
        let ids: Vec<(&str, Outcome)> = ids.iter().map(|id| (*id, Outcome::Passed)).collect();
        let mut report = sample(Some((index, total)), &ids);
        // Shard k started k seconds after the first and ran 1.5 s.
        report.run.started_at = format!("2026-05-01T12:00:0{index}.000Z");
        report
    }

    #[test]
    fn merges_complete_shards_in_order() {
        let mut failing = shard(1, 3, &["a.py::t1"]);
        failing.tests[0].outcome = Outcome::Failed;
        let merged = merge(vec![
            shard(3, 3, &["c.py::t3"]),
            failing,
            shard(2, 3, &["b.py::t2", "b.py::t2b"]),
        ])
        .unwrap();
        let ids: Vec<&str> = merged.tests.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["a.py::t1", "b.py::t2", "b.py::t2b", "c.py::t3"]);
        assert_eq!(merged.totals.passed, 3);
        assert_eq!(merged.totals.failed, 1);
        assert_eq!(merged.run.shard, None);
        assert_eq!(merged.run.workers, 6);
        assert_eq!(merged.run.started_at, "2026-05-01T12:00:01.000Z");
        // From 12:00:01 to 12:00:03 + 1.5 s.
        assert!((merged.run.duration - 3.5).abs() < 1e-9);
        assert_eq!(merged.run.python.as_deref(), Some("3.12.3"));
        // The merged report is an ordinary report.
        assert_eq!(RunReport::from_json(&merged.to_json()).unwrap(), merged);
    }

    #[test]
    fn missing_shards_are_named() {
        let error = merge(vec![
            shard(1, 4, &["a"]),
            shard(2, 4, &["b"]),
            shard(4, 4, &["d"]),
        ])
        .unwrap_err();
        assert_eq!(error.to_string(), "missing shard 3/4");
        let error = merge(vec![shard(2, 4, &["b"])]).unwrap_err();
        assert_eq!(error.to_string(), "missing shards 1/4, 3/4, 4/4");
    }

    #[test]
    fn duplicates_are_named() {
        let error = merge_named(vec![
            ("shard-1.json".into(), shard(1, 2, &["a", "same"])),
            ("shard-2.json".into(), shard(2, 2, &["same", "b"])),
        ])
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "test same appears in both shard-1.json and shard-2.json"
        );
        let error = merge(vec![shard(1, 2, &["a"]), shard(1, 2, &["b"])]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "report 1 and report 2 are both shard 1/2"
        );
        let error = merge(vec![sample(None, &[("x", Outcome::Passed)]); 2]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "test x appears in both report 1 and report 2"
        );
    }

    #[test]
    fn totals_must_agree() {
        let error = merge(vec![shard(1, 2, &["a"]), shard(2, 3, &["b"])]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "report 1 is shard 1/2 but report 2 is shard 2/3: the totals differ"
        );
        let error = merge(vec![
            shard(1, 1, &["a"]),
            sample(None, &[("b", Outcome::Passed)]),
        ])
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "report 1 is shard 1/1 but report 2 is not a shard report"
        );
        assert_eq!(merge(Vec::new()).unwrap_err(), MergeError::Empty);
    }

    #[test]
    fn unsharded_reports_combine_in_order() {
        let mut interrupted = sample(None, &[("b", Outcome::Skipped)]);
        interrupted.run.interrupted = true;
        interrupted.run.not_run = 3;
        let merged = merge(vec![sample(None, &[("a", Outcome::Passed)]), interrupted]).unwrap();
        assert_eq!(merged.tests[0].id, "a");
        assert!(merged.run.interrupted);
        assert_eq!(merged.run.not_run, 3);
        assert_eq!(merged.totals.skipped, 1);
    }

    /// `report` with a plan: `planned` are its own tests' ids unless given.
    fn planned(
        mut report: RunReport,
        selected: u64,
        planned: &[&str],
        elsewhere: &[&str],
    ) -> RunReport {
        report.plan = Some(PlanInfo {
            selected,
            selection_digest: PlanInfo::digest_text(selected * 7),
            planned: planned.iter().map(|s| s.to_string()).collect(),
            elsewhere: elsewhere.iter().map(|s| s.to_string()).collect(),
            withdrawn: Vec::new(),
        });
        report
    }

    fn named(reports: Vec<RunReport>) -> Vec<(String, RunReport)> {
        reports
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("shard-{}.json", i + 1), r))
            .collect()
    }

    #[test]
    fn an_empty_shard_merges() {
        let reports = named(vec![
            planned(shard(1, 3, &["a", "b"]), 3, &["a", "b"], &[]),
            planned(shard(2, 3, &[]), 3, &[], &[]),
            planned(shard(3, 3, &["c"]), 3, &["c"], &[]),
        ]);
        assert!(unreported(&reports).is_empty());
        let merged = merge_named(reports).unwrap();
        assert_eq!(merged.tests.len(), 3);
        assert_eq!(merged.plan, None, "a merged report records no plan");
    }

    #[test]
    fn shards_must_agree_on_the_selection() {
        let error = merge_named(named(vec![
            planned(shard(1, 2, &["a"]), 2, &["a"], &[]),
            planned(shard(2, 2, &["b"]), 3, &["b"], &[]),
        ]))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "shard-1.json selected 2 tests but shard-2.json selected 3: \
             run every shard with the same arguments on the same files"
        );
        let mut other = planned(shard(2, 2, &["b"]), 2, &["b"], &[]);
        other.plan.as_mut().unwrap().selection_digest = "0000000000000001".into();
        let error = merge_named(named(vec![
            planned(shard(1, 2, &["a"]), 2, &["a"], &[]),
            other,
        ]))
        .unwrap_err();
        assert!(error
            .to_string()
            .starts_with("shard-1.json and shard-2.json selected different tests (2 each)"));
    }

    #[test]
    fn plans_must_add_up_to_the_selection() {
        // Shards that split with different durations files: "c" is in no plan.
        let error = merge_named(named(vec![
            planned(shard(1, 2, &["a"]), 3, &["a"], &[]),
            planned(shard(2, 2, &["b"]), 3, &["b"], &[]),
        ]))
        .unwrap_err();
        assert_eq!(
            error,
            MergeError::PlansDoNotAddUp {
                planned: 2,
                selected: 3
            }
        );
        // A report without a plan (an older dbtest, an --lf rerun) is not counted.
        assert!(merge_named(named(vec![
            planned(shard(1, 2, &["a"]), 3, &["a"], &[]),
            shard(2, 2, &["b"]),
        ]))
        .is_ok());
    }

    #[test]
    fn tests_that_ran_nowhere_are_named() {
        let reports = named(vec![
            // Shard 1 planned "a" and "lost"; it found "gen_2" and "gen_3" at
            // import, which belong to shard 2.
            planned(shard(1, 2, &["a"]), 3, &["a", "lost"], &["gen_2", "gen_3"]),
            planned(shard(2, 2, &["b", "gen_2"]), 3, &["b"], &[]),
        ]);
        let missing: Vec<(String, String)> = unreported(&reports)
            .into_iter()
            .map(|u| (u.id, u.expected_by))
            .collect();
        let expected_by_1 = |id: &str| (id.to_string(), "shard-1.json".to_string());
        assert_eq!(missing, [expected_by_1("lost"), expected_by_1("gen_3")]);
        // Unsharded reports are checked too.
        let alone = named(vec![planned(sample(None, &[]), 1, &["x"], &[])]);
        assert_eq!(unreported(&alone).len(), 1);
    }

    #[test]
    fn a_run_that_stopped_early_is_expected_to_miss_tests() {
        let mut stopped = planned(shard(1, 2, &["a"]), 3, &["a", "not_run"], &["gen"]);
        stopped.run.not_run = 1;
        let reports = named(vec![stopped, planned(shard(2, 2, &["b"]), 3, &["b"], &[])]);
        assert!(unreported(&reports).is_empty());
        let mut interrupted = planned(shard(2, 2, &["b"]), 3, &["b", "cut"], &[]);
        interrupted.run.interrupted = true;
        let reports = named(vec![
            planned(shard(1, 2, &["a"]), 3, &["a", "lost"], &["gen"]),
            interrupted,
        ]);
        // Shard 1 was complete: its own planned test is still missing; what it
        // left to the interrupted shard is not.
        let missing: Vec<String> = unreported(&reports).into_iter().map(|u| u.id).collect();
        assert_eq!(missing, ["lost"]);
    }
}
