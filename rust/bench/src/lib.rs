//! `dbtest bench`: benchmarks measured in an exclusive lane — one Python
//! process (`dbtest.bench.lane`), no test workers — driven round by round from
//! here ([`driver`]), their statistics computed from the raw round times
//! (`dbtest-benchstats`, [`analysis`]), rendered ([`report`]), saved and
//! compared across runs ([`baseline`]).

pub mod analysis;
pub mod baseline;
mod driver;
mod lane;
pub mod report;

pub use analysis::{analyze, Analysis, GroupAnalysis, MemberAnalysis};
pub use driver::{MeasureOptions, Progress};
pub use lane::LaneSpec;

use dbtest_protocol::{LaneHello, ModuleRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("{0}")]
    Lane(String),
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Baseline(String),
}

/// A benchmark the coordinator selected: `id` is `file::group::member`.
#[derive(Debug, Clone)]
pub struct BenchTarget {
    pub id: String,
    /// The file part of the id.
    pub file: String,
    pub group: String,
    /// `group::member[params]`: what the lane looks up.
    pub name: String,
    pub module: ModuleRef,
}

/// Why a member has no (or not all its) measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberError {
    /// `importing`, `setup`, `calibrating`, `warming_up` or `running`.
    pub phase: String,
    pub message: String,
    pub traceback: Option<String>,
}

impl MemberError {
    pub fn new(phase: &str, message: &str) -> MemberError {
        MemberError {
            phase: phase.into(),
            message: message.into(),
            traceback: None,
        }
    }
}

/// One member's raw measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRun {
    pub id: String,
    pub file: String,
    pub group: String,
    /// The member's name in its group (`member[params]`).
    pub member: String,
    /// The group's baseline member, as the import told.
    pub baseline: Option<String>,
    pub iterations: u64,
    pub warmups: u32,
    /// Seconds each timed round took (each `iterations` calls).
    pub round_times: Vec<f64>,
    pub gc_collections: u64,
    /// Why the rounds stopped: `precision`, `time budget`, `max rounds`.
    pub stopped: String,
    pub error: Option<MemberError>,
    /// pytest-benchmark's `benchmark.extra_info`, for tests using that fixture.
    #[serde(default)]
    pub extra_info: Option<serde_json::Value>,
}

impl MemberRun {
    pub(crate) fn new(target: &BenchTarget, name: &str) -> MemberRun {
        let member = name
            .strip_prefix(&format!("{}::", target.group))
            .unwrap_or(name)
            .to_string();
        MemberRun {
            id: format!("{}::{}::{member}", target.file, target.group),
            file: target.file.clone(),
            group: target.group.clone(),
            member,
            baseline: None,
            iterations: 0,
            warmups: 0,
            round_times: Vec::new(),
            gc_collections: 0,
            stopped: String::new(),
            error: None,
            extra_info: None,
        }
    }

    pub(crate) fn failed(
        target: &BenchTarget,
        name: &str,
        phase: &str,
        message: String,
        traceback: Option<String>,
    ) -> MemberRun {
        let mut run = MemberRun::new(target, name);
        run.error = Some(MemberError {
            phase: phase.into(),
            message,
            traceback: traceback.filter(|t| !t.is_empty()),
        });
        run
    }

    /// Seconds per call, one per timed round.
    pub fn samples(&self) -> Vec<f64> {
        let n = self.iterations.max(1) as f64;
        self.round_times.iter().map(|t| t / n).collect()
    }
}

/// The lane's interpreter, timer and state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneInfo {
    pub python: String,
    pub implementation: String,
    pub machine: String,
    pub timer: String,
    pub timer_resolution: f64,
    pub cpu: Option<u32>,
    pub cpu_count: u32,
    pub gc_enabled: bool,
    pub gc_threshold: Vec<i64>,
}

impl From<&LaneHello> for LaneInfo {
    fn from(h: &LaneHello) -> LaneInfo {
        LaneInfo {
            python: h.python.clone(),
            implementation: h.implementation.clone(),
            machine: h.machine.clone(),
            timer: h.timer.clone(),
            timer_resolution: h.timer_resolution,
            cpu: h.cpu,
            cpu_count: h.cpu_count,
            gc_enabled: h.gc_enabled,
            gc_threshold: h.gc_threshold.clone(),
        }
    }
}

/// Everything one `dbtest bench` measured.
#[derive(Debug, Clone)]
pub struct BenchRun {
    pub lane: Option<LaneInfo>,
    pub members: Vec<MemberRun>,
    pub interrupted: bool,
}

/// Measures `targets` in one lane process, group after group (a group's
/// members round-robin).
pub fn measure(
    spec: LaneSpec,
    targets: &[BenchTarget],
    options: &MeasureOptions,
    progress: &mut dyn Progress,
    interrupted: &dyn Fn() -> bool,
) -> Result<BenchRun, BenchError> {
    let mut groups: Vec<((String, String), Vec<usize>)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let key = (t.file.clone(), t.group.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    let mut driver = driver::Driver::new(spec, options, interrupted);
    let mut runs = Vec::new();
    for (_, indices) in &groups {
        match driver.group(targets, indices, &mut runs, progress) {
            Ok(()) => {}
            Err(BenchError::Interrupted) => break,
            Err(err) => {
                driver.finish();
                return Err(err);
            }
        }
    }
    let (lane, was_interrupted) = driver.finish();
    Ok(BenchRun {
        lane,
        members: runs,
        interrupted: was_interrupted,
    })
}

#[cfg(test)]
mod tests;
