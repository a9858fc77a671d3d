//! `--cov`: workers measure with coverage.py into a directory of the run
//! (one parallel data file each, replacements and the tests' subprocesses
//! included); once every worker has ended, `python -P -m dbtest.covreport`
//! combines them into the project's data file and writes the reports, once.

use dbtest_config::{CoverageSettings, Settings};
use dbtest_protocol::CoverageOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the workers' data files go: `<run dir>/coverage/.coverage.<suffix>`.
fn data_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("coverage")
}

/// What each worker is told (`config.coverage`), the data directory created;
/// `None` when coverage is off.
pub(crate) fn worker_options(
    settings: &Settings,
    run_dir: &Path,
) -> Result<Option<CoverageOptions>, String> {
    let Some(coverage) = &settings.coverage else {
        return Ok(None);
    };
    let dir = data_dir(run_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(Some(CoverageOptions {
        data_file: dir.join(".coverage").to_string_lossy().into_owned(),
        source: coverage.source.clone(),
        branch: coverage.branch,
        config_file: coverage.config_file.clone(),
        context: coverage.context.clone(),
    }))
}

/// What the final step said.
pub(crate) struct CoverageOutcome {
    /// The coverage section of the console (the terminal report, where the
    /// file reports went, `--cov-fail-under`'s verdict).
    pub text: String,
    /// The total is below `--cov-fail-under`: the run fails.
    pub below_minimum: bool,
}

#[derive(serde::Serialize)]
struct Request<'a> {
    data_dir: String,
    #[serde(flatten)]
    settings: &'a CoverageSettings,
}

/// Combines the run's data files and writes the reports (in the invocation
/// directory, as pytest-cov does). An error is one line for stderr.
pub(crate) fn combine_and_report(
    settings: &Settings,
    run_dir: &Path,
) -> Result<Option<CoverageOutcome>, String> {
    let Some(coverage) = &settings.coverage else {
        return Ok(None);
    };
    let request = serde_json::to_string(&Request {
        data_dir: data_dir(run_dir).to_string_lossy().into_owned(),
        settings: coverage,
    })
    .map_err(|e| e.to_string())?;
    let mut child = Command::new(&settings.python)
        .args(["-P", "-m", "dbtest.covreport"])
        .current_dir(&settings.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {} to report coverage: {e}",
                settings.python.display()
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that died at once says why on stderr, read below.
        let _ = stdin.write_all(request.as_bytes());
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    match output.status.code() {
        Some(0) => Ok(Some(CoverageOutcome {
            text,
            below_minimum: false,
        })),
        Some(1) => Ok(Some(CoverageOutcome {
            text,
            below_minimum: true,
        })),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let why = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no reason given");
            Err(format!("cannot report coverage: {why}"))
        }
    }
}

/// Before any worker starts: coverage.py must be importable by the workers'
/// interpreter, or every worker would fail alike. A usage error otherwise.
pub(crate) fn check_available(settings: &Settings) -> Result<(), String> {
    if settings.coverage.is_none() {
        return Ok(());
    }
    let status = Command::new(&settings.python)
        .args(["-P", "-c", "import coverage"])
        .current_dir(&settings.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot start {}: {e}", settings.python.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "--cov needs coverage.py, which {} cannot import (pip install coverage)",
            settings.python.display()
        ))
    }
}
