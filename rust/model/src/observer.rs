//! What a run tells whoever watches it live (the console, the journal): the
//! runner calls these hooks, the reporters implement them. Here, beside the
//! results they carry, so that neither side depends on the other.

use crate::TestResult;
use std::time::Duration;

/// A test being run right now, for progress displays.
#[derive(Debug, Clone)]
pub struct Running {
    /// The worker's slot (1-based).
    pub slot: u32,
    pub id: String,
    pub elapsed: Duration,
}

/// Hooks for live reporting; every method has a no-op default.
pub trait RunObserver {
    fn run_started(&mut self, _tests: usize, _workers: usize) {}
    /// Tests found at import time were added to the run.
    fn tests_added(&mut self, _count: usize) {}
    /// A listed test turned out not to be a test (the module, once imported,
    /// does not define it): it leaves the run's total.
    fn test_withdrawn(&mut self, _id: &str) {}
    fn test_finished(&mut self, _result: &TestResult) {}
    /// A failing attempt that will be rerun (`--retries`).
    fn test_retried(&mut self, _result: &TestResult) {}
    /// A line a worker printed (only with output streaming, `-s`).
    fn worker_output(&mut self, _slot: u32, _line: &str) {}
    /// Called about ten times a second.
    fn tick(&mut self, _running: &[Running]) {}
    /// Every event that had arrived is handled; the dispatcher may wait next.
    /// The moment to flush what was buffered per result.
    fn caught_up(&mut self) {}
    fn warning(&mut self, _message: &str) {}
}
