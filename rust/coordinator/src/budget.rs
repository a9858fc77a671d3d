//! `--budget SECONDS` (`--budget-strict`): the deadline the runner stops
//! dispatching at, counted from the start of the run, and the tests it left
//! unrun, named after the run.

use dbtest_config::Settings;
use std::io::Write;
use std::time::{Duration, Instant};

/// The runner's deadline for a run that started at `started`.
pub(crate) fn time_budget(
    settings: &Settings,
    started: Instant,
) -> Option<dbtest_runner::TimeBudget> {
    settings
        .changed
        .budget
        .map(|seconds| dbtest_runner::TimeBudget {
            deadline: started + Duration::from_secs_f64(seconds),
            seconds,
        })
}

/// Tests a time budget left unrun, named (a few, then how many more).
pub(crate) fn report_unrun(unrun: &[String], settings: &Settings, on_stdout: bool) {
    const SHOWN: usize = 20;
    if unrun.is_empty() {
        return;
    }
    let strict = if settings.changed.budget_strict {
        " (--budget-strict: this fails the run)"
    } else {
        ""
    };
    // After the progress line, which has no end of line yet.
    let mut text = format!("\nnot run within the time budget{strict}:\n");
    for id in unrun.iter().take(SHOWN) {
        text.push_str(&format!("  {id}\n"));
    }
    if unrun.len() > SHOWN {
        text.push_str(&format!("  ... and {} more\n", unrun.len() - SHOWN));
    }
    let _ = if on_stdout {
        write!(std::io::stderr(), "{text}")
    } else {
        write!(std::io::stdout(), "{text}")
    };
}
