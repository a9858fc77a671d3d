//! The pre-commit loop's settings, from the command line only.

use std::path::PathBuf;

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
