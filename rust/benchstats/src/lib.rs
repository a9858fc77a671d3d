//! Benchmark statistics, computed from the raw samples a benchmark run keeps
//! (seconds per operation, one per timed round): [`Summary`] for one member,
//! [`compare`] for a member against its group's baseline or a saved run.
//! Pure functions, no I/O; the special functions they need are in `special`.

mod compare;
pub mod special;
mod summary;

pub use compare::{compare, hodges_lehmann_ratio, mann_whitney, Comparison, Verdict, ALPHA};
pub use summary::{percentile, Interval, Outliers, Summary, CONFIDENCE};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StatsError {
    #[error("no samples")]
    Empty,
    #[error("a sample is not a positive finite time: {0}")]
    BadSample(f64),
}
