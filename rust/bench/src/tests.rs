//! Analysis, reports and saved runs on made-up measurements (no process runs).

use crate::analysis::{analyze, Analysis, Settings};
use crate::{baseline, report, BenchRun, MemberError, MemberRun};
use dbtest_benchstats::Verdict;

fn member(group: &str, name: &str, baseline: Option<&str>, round: f64) -> MemberRun {
    MemberRun {
        id: format!("bench_x.py::{group}::{name}"),
        file: "bench_x.py".into(),
        group: group.into(),
        member: name.into(),
        baseline: baseline.map(str::to_string),
        iterations: 10,
        warmups: 3,
        // Deterministic jitter: 12 rounds within ±1%.
        round_times: (0..12)
            .map(|i| round * (1.0 + f64::from(i % 5 - 2) * 0.005))
            .collect(),
        gc_collections: 0,
        stopped: "precision".into(),
        error: None,
        extra_info: None,
    }
}

fn settings(gate: Option<f64>) -> Settings {
    Settings {
        precision: 0.02,
        budget_seconds: 5.0,
        min_rounds: 5,
        warmup_rounds: 3,
        fail_on_regression: gate,
    }
}

fn run(one: f64, ten: f64) -> BenchRun {
    let mut broken = member("other", "broken", None, 1.0);
    broken.round_times.clear();
    broken.error = Some(MemberError::new("calibrating", "ValueError: boom"));
    BenchRun {
        lane: None,
        members: vec![
            member("work", "one", Some("one"), one),
            member("work", "ten", Some("one"), ten),
            member("other", "fast", None, 0.5),
            member("other", "slow", None, 2.0),
            broken,
        ],
        interrupted: false,
    }
}

fn find<'a>(a: &'a Analysis, id: &str) -> &'a crate::MemberAnalysis {
    a.members()
        .find(|m| m.run.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

#[test]
fn ratios_to_the_baseline_or_the_fastest() {
    let a = analyze(&run(0.1, 1.0), settings(None), None, None, 0);
    assert_eq!(a.groups.len(), 2);
    let work = &a.groups[0];
    assert_eq!(
        (work.reference.as_deref(), work.reference_kind.as_str()),
        (Some("one"), "baseline")
    );
    let ten = find(&a, "bench_x.py::work::ten");
    let ratio = ten.ratio.unwrap();
    assert!((ratio.ratio - 10.0).abs() < 1e-9, "{ratio:?}");
    assert!(ratio.ratio_ci.low <= 10.0 && 10.0 <= ratio.ratio_ci.high);
    assert!(ten.slowest && find(&a, "bench_x.py::work::one").fastest);
    // Per-call samples: round times over the iterations.
    assert!((ten.stats.as_ref().unwrap().median - 0.1).abs() < 1e-3);

    let other = &a.groups[1];
    assert_eq!(
        (other.reference.as_deref(), other.reference_kind.as_str()),
        (Some("fast"), "fastest")
    );
    assert!((find(&a, "bench_x.py::other::slow").ratio.unwrap().ratio - 4.0).abs() < 1e-9);
    let broken = find(&a, "bench_x.py::other::broken");
    assert!(broken.stats.is_none() && broken.ratio.is_none());
    assert_eq!(a.errors(), 1);
}

#[test]
fn changes_against_a_saved_run_and_the_gate() {
    let saved = analyze(&run(0.1, 1.0), settings(None), None, None, 0);
    let same = analyze(
        &run(0.1, 1.0),
        settings(Some(5.0)),
        Some(("base", &saved)),
        None,
        0,
    );
    assert_eq!(same.compared_with.as_deref(), Some("base"));
    for m in same.members().filter(|m| m.stats.is_some()) {
        assert_eq!(
            m.change.as_ref().unwrap().verdict,
            Verdict::NoChange,
            "{}",
            m.run.id
        );
    }
    assert_eq!(same.regressions(), 0);

    let slower = analyze(
        &run(0.3, 1.0),
        settings(Some(5.0)),
        Some(("base", &saved)),
        None,
        0,
    );
    let one = find(&slower, "bench_x.py::work::one")
        .change
        .as_ref()
        .unwrap();
    assert_eq!(one.verdict, Verdict::Slower);
    assert!(one.regressed && (one.comparison.ratio - 3.0).abs() < 1e-9);
    assert_eq!(slower.regressions(), 1);
    // Beyond the threshold it is still slower, but not a regression.
    let lenient = analyze(
        &run(0.3, 1.0),
        settings(Some(500.0)),
        Some(("base", &saved)),
        None,
        0,
    );
    assert_eq!(lenient.regressions(), 0);
    let faster = analyze(
        &run(0.05, 1.0),
        settings(None),
        Some(("base", &saved)),
        None,
        0,
    );
    let one = find(&faster, "bench_x.py::work::one")
        .change
        .as_ref()
        .unwrap();
    assert_eq!((one.verdict, one.regressed), (Verdict::Faster, false));
}

#[test]
fn the_json_report_reads_back_and_rejects_other_documents() {
    let a = analyze(
        &run(0.1, 1.0),
        settings(None),
        None,
        Some("abc123".into()),
        7,
    );
    let back = Analysis::from_json(&a.to_json()).unwrap();
    assert_eq!(back.git_commit.as_deref(), Some("abc123"));
    assert_eq!(back.members().count(), 5);
    assert_eq!(
        find(&back, "bench_x.py::work::ten").run.round_times,
        find(&a, "bench_x.py::work::ten").run.round_times
    );
    assert!(Analysis::from_json(r#"{"schema": "x"}"#).is_err());
}

#[test]
fn saved_runs_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let a = analyze(&run(0.1, 1.0), settings(None), None, None, 0);
    let err = baseline::load(dir.path(), "main").unwrap_err().to_string();
    assert!(
        err.contains("no saved benchmark run named \"main\"") && err.contains("--save"),
        "{err}"
    );
    let path = baseline::save(dir.path(), "main", &a).unwrap();
    assert!(path.ends_with("benchmarks/main.json"));
    assert_eq!(
        baseline::load(dir.path(), "main")
            .unwrap()
            .members()
            .count(),
        5
    );
    let err = baseline::load(dir.path(), "other").unwrap_err().to_string();
    assert!(err.contains("saved: main"), "{err}");
    for bad in ["", "../x", ".hidden", "a/b", "a b"] {
        assert!(baseline::check_name(bad).is_err(), "{bad:?}");
    }
    assert!(baseline::check_name("main-2026.12_03").is_ok());
}

#[test]
fn console_and_markdown_tables() {
    let saved = analyze(&run(0.1, 1.0), settings(None), None, None, 0);
    let a = analyze(
        &run(0.3, 1.0),
        settings(Some(5.0)),
        Some(("base", &saved)),
        None,
        0,
    );
    let text = report::console(&a);
    assert!(text.contains("bench_x.py::work\n"), "{text}");
    assert!(text.contains("median (ms)"), "{text}");
    assert!(
        text.contains("1.00 (baseline)") && text.contains("fastest") && text.contains("slowest")
    );
    assert!(text.contains("3.33x ["), "{text}");
    assert!(text.contains("vs base") && text.contains("+200.0%") && text.contains("REGRESSION"));
    assert!(text.contains("error (calibrating): ValueError: boom"));
    assert!(text.contains("bench_x.py::other::broken failed while calibrating: ValueError: boom"));
    let md = report::markdown(&a);
    assert!(md.starts_with("# Benchmarks\n"));
    assert!(
        md.contains("## `bench_x.py::work`") && md.contains("| member |") && md.contains("|---|")
    );
    assert!(md.contains("regression(s) past the gate"));
    assert_eq!(report::unit_for(2e-7), (1e-9, "ns"));
    assert_eq!(report::unit_for(0.5).1, "ms");
}
