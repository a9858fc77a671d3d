//! `dbtest list` on the worker pool: each module is imported once and what it
//! defines is kept for the coordinator; nothing runs (no `extend` is sent).

use super::Dispatcher;
use dbtest_protocol::{Discovered, Imported};

/// The tests one module defines once imported, in its (pytest's) order.
#[derive(Debug, Clone)]
pub struct CollectedModule {
    /// Path relative to the root directory, as in the plan.
    pub rel: String,
    pub tests: Vec<Discovered>,
}

impl Dispatcher<'_> {
    pub(super) fn on_collected(&mut self, module: usize, imported: Imported) {
        self.outcome.collected.push(CollectedModule {
            rel: self.modules[module].rel.clone(),
            tests: imported.unlisted,
        });
    }
}
