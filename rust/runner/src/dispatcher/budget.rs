//! `--budget SECONDS`: once the deadline passes no test is dispatched (what is
//! running finishes); batches stay small meanwhile, so that little is
//! committed beyond it. The tests left unrun are named at the end.

use super::Dispatcher;
use std::time::Instant;

/// Tests in one batch at most under a time budget.
pub(super) const BUDGET_BATCH: usize = 4;

/// When dispatching stops, and the budget as given.
#[derive(Debug, Clone, Copy)]
pub struct TimeBudget {
    pub deadline: Instant,
    pub seconds: f64,
}

impl Dispatcher<'_> {
    /// Stops dispatching once the budget is spent.
    pub(super) fn check_budget(&mut self) {
        if let Some(budget) = self.options.time_budget {
            if self.outcome.stopped.is_none() && Instant::now() >= budget.deadline {
                self.stop_dispatching(format!(
                    "time budget of {}s spent: no more tests dispatched",
                    budget.seconds
                ));
            }
        }
    }

    /// The ids of the tests that never ran (under a budget, for the report).
    pub(super) fn unrun_ids(&self) -> Vec<String> {
        (0..self.done.len())
            .filter(|&t| !self.done[t])
            .map(|t| self.id_of(t))
            .collect()
    }
}
