//! The benchmark lane's messages (`dbtest bench`): the coordinator and one
//! `python -P -m dbtest.bench.lane` process, on the same frames as workers
//! (fd 3 in, fd 4 out). The coordinator drives every round, so that it decides
//! from the statistics (`dbtest-benchstats`) when a member has enough.

use crate::ModuleRef;
use serde::{Deserialize, Serialize};

/// Messages the coordinator sends the lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToLane {
    Prepare(Prepare),
    Round(Round),
    Shutdown,
}

/// Messages the lane sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromLane {
    LaneHello(LaneHello),
    Prepared(Prepared),
    Sample(Sample),
    Failed(Failed),
}

/// Import `module`, find `name` (`group::member`), set it up and calibrate it.
/// Answered by one `prepared` listing the members the name stands for (several
/// for a parametrized member whose parameters only the import tells).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepare {
    pub request: u32,
    pub module: ModuleRef,
    pub name: String,
}

/// Time one round of `iterations` calls of the member in `slot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub slot: u32,
    pub iterations: u64,
}

/// Sent once, at start: the interpreter, the timer and the process's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneHello {
    pub protocol: u32,
    pub pid: u32,
    /// `sys.version`, first line.
    pub python: String,
    /// `sys.implementation.name`.
    pub implementation: String,
    /// `platform.platform()` and `platform.machine()`.
    pub machine: String,
    pub timer: String,
    /// The timer's smallest step, measured (seconds).
    pub timer_resolution: f64,
    /// The CPU the lane pinned itself to, if the OS allowed it.
    pub cpu: Option<u32>,
    /// CPUs the machine has.
    pub cpu_count: u32,
    pub gc_enabled: bool,
    pub gc_threshold: Vec<i64>,
}

/// The answer to a `prepare` (after a `failed` for each member, or for the
/// whole request, that could not be prepared): the members now ready.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    pub request: u32,
    /// The group's baseline member (`BenchmarkGroup(..., baseline=)`), if it names one.
    pub baseline: Option<String>,
    pub members: Vec<PreparedMember>,
}

/// A member ready: its slot for `round`, and its calibrated iterations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedMember {
    pub slot: u32,
    /// `group::member[params]`.
    pub name: String,
    pub iterations: u64,
    /// Seconds the calibrated round took.
    pub round_time: f64,
}

/// One round's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub slot: u32,
    /// Seconds the round's `iterations` calls took together.
    pub seconds: f64,
    /// Garbage collections during the round.
    pub gc_collections: u32,
}

/// A member (or a `prepare`) that failed, with the phase it failed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failed {
    pub request: u32,
    /// None when the failure came before any member had a slot (the import,
    /// a name not found).
    pub slot: Option<u32>,
    pub name: String,
    /// `importing`, `setup`, `calibrating`, `warming_up` or `running`.
    pub phase: String,
    pub message: String,
    pub traceback: Option<String>,
}
