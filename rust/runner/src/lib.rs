//! Runs a [`Plan`] on a pool of Python worker processes.
//!
//! Each worker is `python -P -m dbtest.worker` in its own process group, with
//! jobs on fd 3 and results on fd 4 (see `workers/PROTOCOL.md`), forked by a
//! [`ForkServer`] when there is one. The
//! [`dispatcher`](run) runs on the calling thread; per worker, one thread writes
//! jobs, one reads results and one drains the worker's own stdout/stderr.

mod dispatcher;
mod files;
mod forkserver;
mod kept;
mod plan;
mod process;
mod scheduler;
mod spawn;
mod status;

pub use dbtest_model::{RunObserver, Running};
pub use dispatcher::{
    run, run_keeping, CollectedModule, RunOutcome, RunnerOptions, TimeBudget, UnlistedFilter,
};
pub use forkserver::ForkServer;
pub use kept::{KeptWorkers, Refreshed};
pub use plan::*;
pub use spawn::SpawnSpec;

/// `DBTEST_TIMINGS` set (to any value, `1` by convention) asks for timings and
/// memory figures on stderr (the dispatcher's milestones here, the coordinator's
/// stages and memory there).
pub fn timings_enabled() -> bool {
    std::env::var_os("DBTEST_TIMINGS").is_some()
}
