//! The pre-commit loop's settings, from the command line only.

use crate::{CliArgs, Command, ConfigError};
use std::path::PathBuf;

/// The options that only make sense together, and the budget's value.
pub(crate) fn check(cli: &CliArgs) -> Result<(), ConfigError> {
    let wrong = |text: &str| Err(ConfigError::Invalid(text.into()));
    if let Some(b) = cli.budget.filter(|b| !(*b > 0.0 && b.is_finite())) {
        return Err(ConfigError::Invalid(format!(
            "--budget must be a number of seconds greater than 0, not {b}"
        )));
    }
    if cli.explain && cli.changed.is_none() {
        return wrong("--explain says why --changed selected each test: give --changed too");
    }
    if cli.budget_strict && cli.budget.is_none() {
        return wrong("--budget-strict goes with --budget SECONDS");
    }
    if cli.watch && cli.command != Command::Run {
        return wrong("--watch runs tests again and again: dbtest list does not take it");
    }
    Ok(())
}

/// The pre-commit loop's options (`--changed`, `--watch`, `--budget`).
#[derive(Debug, Clone, Default)]
pub struct ChangedArgs {
    /// `--changed [REF]`: the revision to compare the work tree with (`HEAD`).
    pub changed: Option<String>,
    /// `--explain`: say why each test was selected (`dbtest list --changed`).
    pub explain: bool,
    /// `--budget SECONDS`: stop dispatching once this much time is spent.
    pub budget: Option<f64>,
    /// `--budget-strict`: tests the budget left unrun fail the run.
    pub budget_strict: bool,
    /// `--watch`: run again whenever project files change.
    pub watch: bool,
    /// The interpreter's `sys.path` (editable installs' source roots).
    pub sys_path: Vec<PathBuf>,
}
