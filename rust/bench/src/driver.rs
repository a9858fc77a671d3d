//! Measuring: each group's members prepared (imported, set up, calibrated by
//! the lane), warmed up, then timed round-robin (one round of each member in
//! turn, so slow drifts of the machine touch all alike) until each member's
//! median is known to the precision asked for or its time budget is spent.

use crate::lane::{Event, Lane, LaneSpec};
use crate::{BenchError, BenchTarget, LaneInfo, MemberError, MemberRun};
use dbtest_benchstats::Summary;
use dbtest_protocol::{FromLane, Prepare, Round, ToLane};
use std::time::{Duration, Instant};

/// How much to measure.
#[derive(Debug, Clone)]
pub struct MeasureOptions {
    pub warmup_rounds: u32,
    pub min_rounds: usize,
    /// Stop when the median's interval is within ± this fraction of it.
    pub precision: f64,
    /// Per member: stop once this much time went into it (after `min_rounds`).
    pub budget: Duration,
    pub max_rounds: usize,
    /// A round running longer is ended (`--timeout`); by default 20 times the
    /// member's last round, at least 30 s.
    pub round_timeout: Option<Duration>,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions {
            warmup_rounds: 3,
            min_rounds: 5,
            precision: 0.02,
            budget: Duration::from_secs(5),
            max_rounds: 2000,
            round_timeout: None,
        }
    }
}

/// What the driver tells the console as it goes.
pub trait Progress {
    fn phase(&mut self, id: &str, phase: &str);
    fn round(&mut self, id: &str, done: usize, rel_ci: Option<f64>);
    fn finished(&mut self, member: &MemberRun);
}

/// How long a `prepare` (import, set-up, calibration) may take.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(120);

struct Active {
    index: usize,
    slot: u32,
    spent: f64,
}

pub(crate) struct Driver<'a> {
    spec: LaneSpec,
    lane: Option<Lane>,
    pub(crate) info: Option<LaneInfo>,
    options: &'a MeasureOptions,
    interrupted: &'a dyn Fn() -> bool,
    request: u32,
    pub(crate) was_interrupted: bool,
    last_exit: Option<i32>,
}

impl<'a> Driver<'a> {
    pub(crate) fn new(
        spec: LaneSpec,
        options: &'a MeasureOptions,
        interrupted: &'a dyn Fn() -> bool,
    ) -> Driver<'a> {
        Driver {
            spec,
            lane: None,
            info: None,
            options,
            interrupted,
            request: 0,
            was_interrupted: false,
            last_exit: None,
        }
    }

    fn lane(&mut self) -> Result<&mut Lane, BenchError> {
        if self.lane.is_none() {
            let lane = Lane::start(&self.spec)?;
            let hello = match lane.next(
                Some(Instant::now() + Duration::from_secs(60)),
                self.interrupted,
            ) {
                Event::Message(FromLane::LaneHello(hello)) => hello,
                Event::Interrupted => {
                    lane.stop(false);
                    self.was_interrupted = true;
                    return Err(BenchError::Interrupted);
                }
                Event::Message(other) => {
                    lane.stop(false);
                    return Err(BenchError::Lane(format!(
                        "expected lane_hello, got {other:?}"
                    )));
                }
                Event::Timeout | Event::Gone(_) => {
                    let tail = lane.stderr_tail();
                    lane.stop(false);
                    return Err(BenchError::Lane(format!(
                        "the benchmark process did not start{}",
                        if tail.is_empty() {
                            String::new()
                        } else {
                            format!(":\n{tail}")
                        }
                    )));
                }
            };
            self.info.get_or_insert_with(|| LaneInfo::from(&hello));
            self.lane = Some(lane);
        }
        self.lane
            .as_mut()
            .ok_or_else(|| BenchError::Lane("no benchmark process".into()))
    }

    /// The lane died or hung: ended (its exit kept for [`Driver::died`]), to be
    /// restarted on next use. Returns the tail of its stderr.
    fn lose_lane(&mut self) -> String {
        match self.lane.take() {
            Some(lane) => {
                let tail = lane.stderr_tail();
                self.last_exit = lane.stop(false);
                tail
            }
            None => String::new(),
        }
    }

    /// Why the lost lane is gone, in words (`why`: what the reader saw).
    fn gone(&self, why: String) -> String {
        if why.contains("bad frame") {
            return why;
        }
        match self.last_exit {
            Some(code) => format!("the benchmark process died (exit code {code})"),
            None => "the benchmark process died (killed by a signal)".into(),
        }
    }

    /// Measures one group's members (`runs[i]` for each of `indices`).
    pub(crate) fn group(
        &mut self,
        targets: &[BenchTarget],
        indices: &[usize],
        runs: &mut Vec<MemberRun>,
        progress: &mut dyn Progress,
    ) -> Result<(), BenchError> {
        let mut active = Vec::new();
        for &t in indices {
            progress.phase(&targets[t].id, "calibrating");
            let before = runs.len();
            active.extend(self.prepare(&targets[t], runs)?);
            for run in runs[before..].iter().filter(|r| r.error.is_some()) {
                progress.finished(run);
            }
        }
        for _ in 0..self.options.warmup_rounds {
            self.cycle(&mut active, runs, progress, "warming_up")?;
        }
        while !active.is_empty() {
            self.cycle(&mut active, runs, progress, "running")?;
            let options = self.options;
            active.retain(|a| {
                let run = &runs[a.index];
                let n = run.round_times.len();
                let rel = rel_ci(run);
                let done = if n >= options.max_rounds {
                    Some("max rounds")
                } else if n < options.min_rounds {
                    None
                } else if rel.is_some_and(|r| r < options.precision) {
                    Some("precision")
                } else if a.spent >= options.budget.as_secs_f64() {
                    Some("time budget")
                } else {
                    None
                };
                if let Some(reason) = done {
                    runs[a.index].stopped = reason.into();
                    progress.finished(&runs[a.index]);
                }
                done.is_none()
            });
        }
        Ok(())
    }

    fn prepare(
        &mut self,
        target: &BenchTarget,
        runs: &mut Vec<MemberRun>,
    ) -> Result<Vec<Active>, BenchError> {
        self.request += 1;
        let request = self.request;
        let message = ToLane::Prepare(Prepare {
            request,
            module: target.module.clone(),
            name: target.name.clone(),
        });
        let interrupted = self.interrupted;
        let lane = self.lane()?;
        if let Err(why) = lane.send(&message) {
            let tail = self.lose_lane();
            runs.push(MemberRun::failed(
                target,
                &target.name,
                "importing",
                why,
                Some(tail),
            ));
            return Ok(Vec::new());
        }
        let mut failures: Vec<(Option<u32>, String, MemberError)> = Vec::new();
        // Importing, setting up and calibrating: generous, but not forever.
        let deadline = Instant::now() + PREPARE_TIMEOUT;
        while let Some(lane) = self.lane.as_ref() {
            match lane.next(Some(deadline), interrupted) {
                Event::Message(FromLane::Failed(f)) if f.request == request => {
                    failures.push((
                        f.slot,
                        f.name.clone(),
                        MemberError {
                            phase: f.phase,
                            message: f.message,
                            traceback: f.traceback,
                        },
                    ));
                }
                Event::Message(FromLane::Prepared(p)) if p.request == request => {
                    for (_, name, error) in failures {
                        let mut run = MemberRun::new(target, &name);
                        run.error = Some(error);
                        runs.push(run);
                    }
                    let mut ready = Vec::new();
                    for member in p.members {
                        let mut run = MemberRun::new(target, &member.name);
                        run.iterations = member.iterations;
                        run.baseline = p.baseline.clone();
                        runs.push(run);
                        ready.push(Active {
                            index: runs.len() - 1,
                            slot: member.slot,
                            spent: member.round_time,
                        });
                    }
                    return Ok(ready);
                }
                Event::Message(_) => continue,
                Event::Interrupted => {
                    self.was_interrupted = true;
                    return Err(BenchError::Interrupted);
                }
                Event::Timeout => {
                    let tail = self.lose_lane();
                    runs.push(MemberRun::failed(
                        target,
                        &target.name,
                        "calibrating",
                        format!(
                            "timed out: importing, setting up and calibrating took over {} s",
                            PREPARE_TIMEOUT.as_secs()
                        ),
                        Some(tail),
                    ));
                    return Ok(Vec::new());
                }
                Event::Gone(why) => {
                    let tail = self.lose_lane();
                    runs.push(MemberRun::failed(
                        target,
                        &target.name,
                        "calibrating",
                        self.gone(why),
                        Some(tail),
                    ));
                    return Ok(Vec::new());
                }
            }
        }
        Ok(Vec::new())
    }

    /// One round of each active member; a member that fails leaves the group.
    fn cycle(
        &mut self,
        active: &mut Vec<Active>,
        runs: &mut [MemberRun],
        progress: &mut dyn Progress,
        phase: &str,
    ) -> Result<(), BenchError> {
        let mut failed = Vec::new();
        for (position, a) in active.iter_mut().enumerate() {
            let run = &mut runs[a.index];
            if phase == "warming_up" && run.warmups == 0 {
                progress.phase(&run.id, "warming up");
            }
            let Some(lane) = self.lane.as_mut() else {
                failed.push(position);
                run.error = Some(MemberError::new(phase, "the benchmark process was lost"));
                continue;
            };
            let expected = if let Some(last) = run.round_times.last() {
                *last
            } else {
                1.0
            };
            let limit = self
                .options
                .round_timeout
                .map_or((expected * 20.0).max(30.0), |t| t.as_secs_f64());
            // `limit` comes from the lane's own figures: never trusted to be sane.
            let deadline = Duration::try_from_secs_f64(limit)
                .ok()
                .and_then(|d| Instant::now().checked_add(d))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(30));
            if lane
                .send(&ToLane::Round(Round {
                    slot: a.slot,
                    iterations: run.iterations,
                }))
                .is_err()
            {
                failed.push(position);
                let tail = self.lose_lane();
                run.error = Some(MemberError {
                    phase: phase.into(),
                    message: "the benchmark process died".into(),
                    traceback: Some(tail),
                });
                continue;
            }
            let interrupted = self.interrupted;
            let event = match self.lane.as_ref() {
                Some(lane) => lane.next(Some(deadline), interrupted),
                None => Event::Gone("no lane".into()),
            };
            match event {
                Event::Message(FromLane::Sample(s)) if s.slot == a.slot => {
                    a.spent += s.seconds;
                    run.gc_collections += u64::from(s.gc_collections);
                    if phase == "warming_up" {
                        run.warmups += 1;
                    } else {
                        run.round_times.push(s.seconds);
                        let rel = rel_ci(run);
                        progress.round(&run.id, run.round_times.len(), rel);
                    }
                }
                Event::Message(FromLane::Failed(f)) => {
                    failed.push(position);
                    run.error = Some(MemberError {
                        phase: phase.into(),
                        message: f.message,
                        traceback: f.traceback,
                    });
                }
                Event::Message(other) => {
                    failed.push(position);
                    self.lose_lane();
                    run.error = Some(MemberError::new(
                        phase,
                        &format!("unexpected message from the benchmark process: {other:?}"),
                    ));
                }
                Event::Interrupted => {
                    self.was_interrupted = true;
                    return Err(BenchError::Interrupted);
                }
                Event::Timeout => {
                    failed.push(position);
                    let tail = self.lose_lane();
                    run.error = Some(MemberError {
                        phase: phase.into(),
                        message: format!("timed out: a round took over {limit} s"),
                        traceback: (!tail.is_empty()).then_some(tail),
                    });
                }
                Event::Gone(why) => {
                    failed.push(position);
                    let tail = self.lose_lane();
                    run.error = Some(MemberError {
                        phase: phase.into(),
                        message: self.gone(why),
                        traceback: (!tail.is_empty()).then_some(tail),
                    });
                }
            }
            if self.lane.is_none() {
                // The others' slots died with the lane: they end here too.
                break;
            }
        }
        if self.lane.is_none() {
            for a in active.iter() {
                let run = &mut runs[a.index];
                if run.error.is_none() && !failed.iter().any(|&p| active[p].index == a.index) {
                    run.error = Some(MemberError::new(
                        phase,
                        "the benchmark process was lost (another member crashed it)",
                    ));
                }
            }
            for a in active.iter() {
                progress.finished(&runs[a.index]);
            }
            active.clear();
            return Ok(());
        }
        for &position in failed.iter().rev() {
            let a = active.remove(position);
            progress.finished(&runs[a.index]);
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> (Option<LaneInfo>, bool) {
        if let Some(lane) = self.lane.take() {
            lane.stop(true);
        }
        (self.info.take(), self.was_interrupted)
    }
}

/// The relative half-width of the median's interval so far.
fn rel_ci(run: &MemberRun) -> Option<f64> {
    if run.round_times.len() < 2 {
        return None;
    }
    Summary::of(&run.round_times).ok().map(|s| s.median_rel_ci)
}
