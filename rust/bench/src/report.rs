//! The console comparison table and the Markdown report, one table per group,
//! in a time unit chosen per group (its fastest median's).

use crate::analysis::{Analysis, GroupAnalysis, MemberAnalysis};
use dbtest_benchstats::Verdict;
use std::fmt::Write;

/// (divisor, unit) for times around `seconds`.
pub fn unit_for(seconds: f64) -> (f64, &'static str) {
    if seconds >= 1.0 {
        (1.0, "s")
    } else if seconds >= 1e-3 {
        (1e-3, "ms")
    } else if seconds >= 1e-6 {
        (1e-6, "µs")
    } else {
        (1e-9, "ns")
    }
}

fn group_unit(group: &GroupAnalysis) -> (f64, &'static str) {
    let fastest = group
        .members
        .iter()
        .filter_map(|m| m.stats.as_ref().map(|s| s.median))
        .fold(f64::INFINITY, f64::min);
    unit_for(if fastest.is_finite() { fastest } else { 1.0 })
}

fn ops(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.2}k", value / 1e3)
    } else {
        format!("{value:.2}")
    }
}

fn ratio_text(group: &GroupAnalysis, m: &MemberAnalysis) -> String {
    if group.reference.as_deref() == Some(m.run.member.as_str()) {
        return format!("1.00 ({})", group.reference_kind);
    }
    match &m.ratio {
        Some(r) => format!(
            "{:.2}x [{:.2}, {:.2}]",
            r.ratio, r.ratio_ci.low, r.ratio_ci.high
        ),
        None => "-".into(),
    }
}

fn change_text(m: &MemberAnalysis) -> String {
    match &m.change {
        Some(c) => {
            let pct = (c.comparison.ratio - 1.0) * 100.0;
            let low = (c.comparison.ratio_ci.low - 1.0) * 100.0;
            let high = (c.comparison.ratio_ci.high - 1.0) * 100.0;
            let flag = if c.regressed { " REGRESSION" } else { "" };
            format!(
                "{pct:+.1}% [{low:+.1}, {high:+.1}] {}{flag}",
                c.verdict.words()
            )
        }
        None => "-".into(),
    }
}

fn mark(m: &MemberAnalysis) -> &'static str {
    match (m.fastest, m.slowest) {
        (true, _) => "fastest",
        (_, true) => "slowest",
        _ => "",
    }
}

/// Rows of one group: header first.
fn rows(analysis: &Analysis, group: &GroupAnalysis) -> Vec<Vec<String>> {
    let (div, unit) = group_unit(group);
    let mut header: Vec<String> = [
        "member".to_string(),
        format!("median ({unit})"),
        "±95% CI".into(),
        format!("mean ({unit})"),
        format!("stddev ({unit})"),
        format!("min ({unit})"),
        "ops/s".into(),
        "rounds".into(),
        "outliers".into(),
        "ratio [95% CI]".into(),
        String::new(),
    ]
    .into();
    if analysis.compared_with.is_some() {
        header.push(format!(
            "vs {}",
            analysis.compared_with.as_deref().unwrap_or_default()
        ));
    }
    let mut out = vec![header];
    for m in &group.members {
        let mut row = vec![m.run.member.clone()];
        match (&m.stats, &m.run.error) {
            (Some(s), _) => {
                row.extend([
                    format!("{:.3}", s.median / div),
                    format!("±{:.1}%", s.median_rel_ci * 100.0),
                    format!("{:.3}", s.mean / div),
                    format!("{:.3}", s.stddev / div),
                    format!("{:.3}", s.min / div),
                    ops(s.ops),
                    format!("{}x{}", s.n, m.run.iterations),
                    format!("{}+{}", s.outliers.mild, s.outliers.severe),
                    ratio_text(group, m),
                    mark(m).into(),
                ]);
            }
            (None, Some(e)) => {
                row.push(format!(
                    "error ({}): {}",
                    e.phase.replace('_', " "),
                    e.message
                ));
                row.extend(std::iter::repeat_n(String::new(), 9));
            }
            (None, None) => {
                row.push("not measured".into());
                row.extend(std::iter::repeat_n(String::new(), 9));
            }
        }
        if analysis.compared_with.is_some() {
            row.push(change_text(m));
        }
        out.push(row);
    }
    out
}

/// The console report: a table per group, then member errors with tracebacks.
pub fn console(analysis: &Analysis) -> String {
    let mut out = String::new();
    for group in &analysis.groups {
        let _ = writeln!(out, "\n{}::{}", group.file, group.group);
        let rows = rows(analysis, group);
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| {
                rows.iter()
                    .map(|r| r.get(c).map_or(0, |t| t.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &rows {
            // An error row is one long cell: no padding after it.
            let line: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, t)| {
                    let pad = widths[c].saturating_sub(t.chars().count());
                    if c == 0 {
                        format!("{t}{}", " ".repeat(pad))
                    } else {
                        format!("{}{t}", " ".repeat(pad))
                    }
                })
                .collect();
            let _ = writeln!(out, "  {}", line.join("  ").trim_end());
        }
    }
    for m in analysis.members() {
        if let Some(e) = &m.run.error {
            let _ = writeln!(
                out,
                "\n{} failed while {}: {}",
                m.run.id,
                e.phase.replace('_', " "),
                e.message
            );
            if let Some(tb) = &e.traceback {
                let _ = writeln!(out, "{}", tb.trim_end());
            }
        }
    }
    out
}

/// The Markdown report (a CI job summary).
pub fn markdown(analysis: &Analysis) -> String {
    let mut out = String::from("# Benchmarks\n");
    if let Some(lane) = &analysis.lane {
        let _ = writeln!(
            out,
            "\n{} on {}; timer resolution {:.0} ns; CPU {}; GC {}.",
            lane.python,
            lane.machine,
            lane.timer_resolution * 1e9,
            lane.cpu
                .map_or("not pinned".to_string(), |c| format!("pinned to {c}")),
            if lane.gc_enabled {
                "enabled"
            } else {
                "disabled"
            }
        );
    }
    if let Some(commit) = &analysis.git_commit {
        let _ = writeln!(out, "\nCommit `{commit}`.");
    }
    for group in &analysis.groups {
        let _ = writeln!(out, "\n## `{}::{}`\n", group.file, group.group);
        let rows = rows(analysis, group);
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
            if i == 0 {
                let _ = writeln!(out, "|{}", "---|".repeat(row.len()));
            }
        }
    }
    let verdicts: Vec<&MemberAnalysis> = analysis
        .members()
        .filter(|m| {
            m.change
                .as_ref()
                .is_some_and(|c| c.verdict != Verdict::NoChange)
        })
        .collect();
    if analysis.compared_with.is_some() {
        let _ = writeln!(
            out,
            "\n{} significant change(s) against `{}`; {} regression(s) past the gate.",
            verdicts.len(),
            analysis.compared_with.as_deref().unwrap_or_default(),
            analysis.regressions()
        );
    }
    out
}
