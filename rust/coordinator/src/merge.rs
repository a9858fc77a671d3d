//! `dbtest merge`: combines the JSON reports of a CI matrix's shards into one
//! report (and JUnit/Markdown renderings of it), and their durations into one
//! durations file. Inputs may be reports or durations files; duplicates,
//! missing shards and shards that disagree on the selection are usage errors
//! (exit 4, nothing written). Tests a report planned, or found at import for
//! another shard, that have no result in any report ran in no shard: the
//! merged files are written, then one line on stderr and exit 3 (internal
//! error: dbtest failed to run every selected test exactly once).

use crate::error::CoordinatorError;
use crate::exit;
use crate::reports::{open_for_writing, ReportKind};
use dbtest_config::Settings;
use dbtest_durations::Durations;
use dbtest_model::counted;
use dbtest_report::{merge_named, unreported, RunReport, Unreported};
use std::io::Write;

pub(crate) fn merge(settings: &Settings) -> Result<i32, CoordinatorError> {
    if settings.paths.is_empty() {
        return Err(CoordinatorError::Usage(
            "merge needs the report files to combine".into(),
        ));
    }
    let outputs = [
        (ReportKind::Json, &settings.json_report),
        (ReportKind::Junit, &settings.junit_xml),
        (ReportKind::Markdown, &settings.markdown_report),
        (ReportKind::Html, &settings.html_report),
    ];
    if outputs.iter().all(|(_, p)| p.is_none()) && settings.durations_out.is_none() {
        return Err(CoordinatorError::Usage(
            "merge needs somewhere to write: --json, --junit-xml, --markdown, --html or --durations".into(),
        ));
    }
    let mut reports = Vec::new();
    let mut durations = Vec::new();
    for input in &settings.paths {
        let path = settings.cwd.join(input);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CoordinatorError::Usage(format!("cannot read {input}: {e}")))?;
        match RunReport::from_json(&text) {
            Ok(report) => reports.push((input.clone(), report)),
            Err(report_error) => match Durations::from_slice(text.as_bytes()) {
                Ok(file) => durations.push(file),
                Err(_) => return Err(CoordinatorError::Usage(format!("{input}: {report_error}"))),
            },
        }
    }
    // Durations come from the reports' tests too, so shard reports alone suffice.
    for (_, report) in &reports {
        let mut file = Durations::new();
        for test in &report.tests {
            if test.duration > 0.0 {
                file.insert(test.id.clone(), test.duration);
            }
        }
        durations.push(file);
    }
    // Checked before merging consumes the reports; reported after the merged
    // files are written, so that a CI summary still shows what did run.
    let missing = unreported(&reports);
    let merged = if reports.is_empty() {
        None
    } else {
        Some(merge_named(reports).map_err(|e| CoordinatorError::Usage(e.to_string()))?)
    };

    for (kind, path) in outputs {
        let Some(path) = path else { continue };
        let Some(report) = &merged else {
            return Err(CoordinatorError::Usage(format!(
                "no reports among the inputs: cannot write {}",
                path.display()
            )));
        };
        let text = kind.render(report).map_err(CoordinatorError::Internal)?;
        open_for_writing(path)?
            .write_all(text.as_bytes())
            .map_err(|e| {
                CoordinatorError::Usage(format!("cannot write {}: {e}", path.display()))
            })?;
    }
    if let Some(path) = &settings.durations_out {
        Durations::merge(durations).write(path).map_err(|e| {
            CoordinatorError::Usage(format!("cannot write {}: {e}", path.display()))
        })?;
    }
    if let Some(report) = &merged {
        let t = &report.totals;
        let _ = writeln!(
            std::io::stdout(),
            "merged {}: {} passed, {} failed, {}, {} skipped",
            counted(report.tests.len() as u64, "test", "tests"),
            t.passed + t.flaky,
            t.failed,
            counted(t.errors, "error", "errors"),
            t.skipped
        );
        if let Some(first) = missing.first() {
            eprintln!("dbtest: error: {}", missing_message(first, missing.len()));
            return Ok(exit::INTERNAL_ERROR);
        }
        let failed = t.any_failure(report.run.flaky_fails);
        return Ok(if failed { exit::TESTS_FAILED } else { exit::OK });
    }
    Ok(exit::OK)
}

/// One line for tests that ran in no shard: how many, and the first.
fn missing_message(first: &Unreported, count: usize) -> String {
    let more = match count {
        1 => String::new(),
        2 => " and 1 more".to_string(),
        n => format!(" and {} more", n - 1),
    };
    let tests = if count == 1 { "test has" } else { "tests have" };
    format!(
        "{count} {tests} no result in any report: {} (expected by {}){more}; \
         they ran in no shard",
        first.id, first.expected_by
    )
}
