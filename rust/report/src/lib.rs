//! Reports: live console progress while tests run, and the report at the end.

mod console;
mod summary;

pub use console::{ConsoleOptions, ConsoleReporter};
pub use summary::{summary_line, Counts, RunSummary};
