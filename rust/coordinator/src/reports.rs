//! Report files (`--junit-xml`, `--json`, `--markdown`, `--html`) and report documents on
//! stdout (`--format`). Files are opened before any test runs, so an
//! unwritable path is a usage error that costs nothing, and written at the end
//! (an interrupted run writes its partial report too).

use crate::ci::BazelTestEnv;
use crate::error::CoordinatorError;
use dbtest_config::{Format, Settings};
use dbtest_model::TestResult;
use dbtest_report::{
    junit_xml, local_hostname, markdown, JunitOptions, PlanInfo, RunInfo, RunReport, ShardInfo,
};
use dbtest_select::ShardSpec;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// The report kinds a run can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportKind {
    Json,
    Junit,
    Markdown,
    Html,
}

impl ReportKind {
    pub fn render(self, report: &RunReport) -> Result<String, String> {
        match self {
            ReportKind::Json => Ok(report.to_json()),
            ReportKind::Markdown => Ok(markdown(report)),
            ReportKind::Html => Ok(dbtest_report::html(report)),
            ReportKind::Junit => junit_xml(
                report,
                &JunitOptions {
                    hostname: local_hostname(),
                },
            )
            .map_err(|e| e.to_string()),
        }
    }

    /// The report `--format` asks for on stdout, if any.
    pub fn for_stdout(format: Format) -> Option<ReportKind> {
        match format {
            Format::Console => None,
            Format::Json => Some(ReportKind::Json),
            Format::Junit => Some(ReportKind::Junit),
            Format::Markdown => Some(ReportKind::Markdown),
        }
    }
}

/// Where a run's report goes: files opened for writing, and the document
/// `--format` prints on stdout.
pub(crate) struct ReportFiles {
    files: Vec<(ReportKind, PathBuf, File)>,
    stdout: Option<ReportKind>,
}

impl ReportFiles {
    /// Opens every report file the settings (or Bazel) ask for.
    pub fn open(
        settings: &Settings,
        bazel: Option<&BazelTestEnv>,
    ) -> Result<ReportFiles, CoordinatorError> {
        let junit = settings
            .junit_xml
            .clone()
            .or_else(|| bazel.and_then(|b| b.xml_output_file.clone()));
        let wanted = [
            (ReportKind::Junit, junit),
            (ReportKind::Json, settings.json_report.clone()),
            (ReportKind::Markdown, settings.markdown_report.clone()),
            (ReportKind::Html, settings.html_report.clone()),
        ];
        let mut files = Vec::new();
        for (kind, path) in wanted {
            let Some(path) = path else { continue };
            let file = open_for_writing(&path)?;
            files.push((kind, path, file));
        }
        Ok(ReportFiles {
            files,
            stdout: ReportKind::for_stdout(settings.format),
        })
    }

    /// Whether any report is asked for (building one copies every result).
    pub fn wanted(&self) -> bool {
        !self.files.is_empty() || self.stdout.is_some()
    }

    /// Whether a report document goes to stdout (the console then uses stderr).
    pub fn on_stdout(&self) -> bool {
        self.stdout.is_some()
    }

    /// Writes every report, saying on stderr which could not be written.
    pub fn write(self, report: &RunReport) {
        for (kind, path, mut file) in self.files {
            let written = kind
                .render(report)
                .and_then(|text| file.write_all(text.as_bytes()).map_err(|e| e.to_string()));
            if let Err(err) = written {
                eprintln!("dbtest: error: cannot write {}: {err}", path.display());
            }
        }
        if let Some(kind) = self.stdout {
            match kind.render(report) {
                // Ignored write errors: a closed pipe (`| head`) is not our failure.
                Ok(text) => {
                    let _ = std::io::stdout().write_all(text.as_bytes());
                }
                Err(err) => eprintln!("dbtest: error: {err}"),
            }
        }
    }
}

/// Creates (truncates) `path`, creating missing parent directories, or says why it cannot.
pub(crate) fn open_for_writing(path: &std::path::Path) -> Result<File, CoordinatorError> {
    let fail = |e: std::io::Error| {
        CoordinatorError::Usage(format!("cannot write report {}: {e}", path.display()))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    File::create(path).map_err(fail)
}

/// What a report says about the run besides its tests.
pub(crate) struct RunFacts {
    pub started_at: SystemTime,
    pub elapsed: Duration,
    pub workers: usize,
    pub shard: Option<ShardSpec>,
    pub interrupted: bool,
    pub not_run: usize,
    pub stopped: Option<String>,
    /// The workers' Python version, when a worker started.
    pub python: Option<String>,
    /// What the run planned, for `dbtest merge`'s checks.
    pub plan: Option<PlanInfo>,
}

/// The report document of a run: `retried` are the failing attempts of retried
/// tests, in order; `results` the final results.
pub(crate) fn build_report(
    facts: RunFacts,
    settings: &Settings,
    retried: &[TestResult],
    results: &[TestResult],
) -> RunReport {
    let mut run = RunInfo::new(
        facts.started_at,
        facts.elapsed,
        u32::try_from(facts.workers).unwrap_or(u32::MAX),
    );
    run.shard = facts.shard.map(|s| ShardInfo {
        index: s.index,
        total: s.total,
    });
    run.interrupted = facts.interrupted;
    run.not_run = facts.not_run as u64;
    run.stopped = facts.stopped;
    run.python = facts.python;
    run.flaky_fails = settings.flaky_fails;
    run.seed = settings.shuffle;
    let mut report = RunReport::from_results(run, retried.iter().chain(results).cloned());
    report.plan = facts.plan;
    report
}
