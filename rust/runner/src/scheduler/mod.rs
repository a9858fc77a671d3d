//! Decides which tests each worker runs. Pure bookkeeping, no I/O.
//!
//! **The plan** ([`layout`]), made before anything runs: every unit of work
//! (a test, or a whole class that must stay on one worker) in one order —
//! pytest's: modules in collection order, each module's tests in file order
//! (with recorded durations and several workers, a module's module-level test functions
//! longest first; `--shuffle` draws an order instead) — cut into one
//! contiguous lane per worker of nearly equal estimated work, then balanced
//! as the run would be if every test took its estimate. It is a pure function
//! of the tests, the options, the worker count and the (quantized) estimates:
//! the same inputs give each worker the same tests in the same order, and
//! each worker runs stretches of the suite in pytest's order, so a test sees
//! what the tests before it in the file, and in the files before it, left.
//!
//! **The run**: each worker takes batches from the front of its own lane. One
//! that has run out takes over the back of the lane whose worker has the most
//! work left, half of that work counting what the worker was sent and has not
//! run (stealing) — with recorded durations only when that lane has more than
//! [`STEAL_MARGIN`] of a worker's share (and at least [`STEAL_FLOOR`]) not yet
//! handed out, so timing noise does not move tests; without them (a first run,
//! `--no-cache`) whenever anything is left, since nothing says which tests are
//! long. A lane's batches are a third of what it has left (the tail shrinks,
//! so stealing finds work); without recorded durations a batch holds about
//! [`COLD_BATCH_SECONDS`] of tests at the mean duration seen so far in the
//! run, and one test before any result.

mod layout;
#[cfg(test)]
mod tests;

use layout::{balance, cut, ordered_units, units_of, whole_unit};
pub(crate) use layout::{quantize, Order};
use std::collections::VecDeque;

/// Largest number of tests sent in one batch (bounds frame size and lost work).
const MAX_BATCH_TESTS: usize = 1000;
/// With recorded durations, a worker that runs dry steals only from a lane
/// this share of a worker's planned work behind.
pub(crate) const STEAL_MARGIN: f64 = 0.1;
/// ... and at least this many estimated seconds: in a short run, a worker that
/// started a few milliseconds late is not robbed.
pub(crate) const STEAL_FLOOR: f64 = 0.2;
/// Without recorded durations: the time's worth of tests a batch holds.
const COLD_BATCH_SECONDS: f64 = 0.002;

/// One test as the scheduler and dispatcher see it.
#[derive(Debug, Clone)]
pub(crate) struct TestEntry {
    /// Name within its module; the id is `<module rel>::<name>`.
    pub name: Box<str>,
    pub module: usize,
    pub group: Option<Box<str>>,
    pub timeout: Option<f64>,
    pub estimate: f64,
}

/// Per-module scheduling flags.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ModuleFlags {
    /// Import it once to find tests the static pass could not see.
    pub run_unlisted: bool,
    /// Plan it before modules without the flag (`--ff`).
    pub first: bool,
    /// All its tests are one unit (module-level set-up runs once).
    pub whole: bool,
}

/// Tests handed to one worker in one `run` message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Batch {
    pub module: usize,
    pub tests: Vec<usize>,
    pub run_unlisted: bool,
}

/// Tests that run together on one worker, in order; a module's probe has none.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub module: usize,
    pub tests: Vec<usize>,
    pub estimate: f64,
}

#[derive(Debug, Default)]
struct Lane {
    units: VecDeque<Unit>,
    estimate: f64,
}

impl Lane {
    fn recount(&mut self) {
        self.estimate = self.units.iter().map(|u| u.estimate).sum();
    }
}

pub(crate) struct Scheduler {
    lanes: Vec<Lane>,
    /// Per module: its next batch also looks for tests only its import shows.
    unlisted_pending: Vec<bool>,
    /// Per module: all its tests are one unit.
    whole: Vec<bool>,
    remaining_tests: usize,
    /// Estimates come from recorded durations.
    recorded: bool,
    /// A lane must be this far behind (estimated seconds) to be stolen from.
    steal_margin: f64,
    /// Durations seen in this run (sum, count), for batches without recorded ones.
    seen: (f64, usize),
}

impl Scheduler {
    /// `lanes`: one per worker. `recorded`: the estimates come from recorded
    /// durations. `probe_estimate`: the weight of a module imported only to
    /// find its tests.
    pub fn new(
        table: &[TestEntry],
        modules: &[ModuleFlags],
        lanes: usize,
        recorded: bool,
        order: Order,
        probe_estimate: f64,
    ) -> Self {
        let units = ordered_units(table, modules, order, probe_estimate);
        let total: f64 = units.iter().map(|u| u.estimate).sum();
        let mut planned = cut(units, lanes);
        balance(&mut planned);
        let lanes: Vec<Lane> = planned
            .into_iter()
            .map(|units| {
                let mut lane = Lane {
                    units,
                    estimate: 0.0,
                };
                lane.recount();
                lane
            })
            .collect();
        Scheduler {
            steal_margin: (STEAL_MARGIN * total / lanes.len().max(1) as f64).max(STEAL_FLOOR),
            lanes,
            unlisted_pending: modules.iter().map(|m| m.run_unlisted).collect(),
            whole: modules.iter().map(|m| m.whole).collect(),
            remaining_tests: table.len(),
            recorded,
            seen: (0.0, 0),
        }
    }

    /// The tests planned for each lane, in order (for tests and diagnostics).
    #[cfg(test)]
    pub fn lanes(&self) -> Vec<Vec<usize>> {
        self.lanes
            .iter()
            .map(|lane| lane.units.iter().flat_map(|u| u.tests.clone()).collect())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.iter().all(|lane| lane.units.is_empty())
    }

    pub fn remaining_tests(&self) -> usize {
        self.remaining_tests
    }

    /// A test of this run took `seconds` (sizes batches without recorded durations).
    pub fn observe(&mut self, seconds: f64) {
        if seconds.is_finite() && seconds >= 0.0 {
            self.seen.0 += seconds;
            self.seen.1 += 1;
        }
    }

    /// The next batch for the worker of `lane`: at most `limit` tests (a
    /// whole unit may exceed it), all from one module. `idle`: the worker has
    /// nothing left to run, so it may take over another lane's work if its
    /// own is done; then `sent[v]` is the estimated work lane `v`'s worker
    /// has been sent and not finished.
    pub fn next_batch(&mut self, lane: usize, limit: usize, idle: Option<&[f64]>) -> Option<Batch> {
        if self.lanes.get(lane)?.units.is_empty()
            && !idle.is_some_and(|sent| self.steal(lane, sent))
        {
            return None;
        }
        let cap = self.batch_cap(lane).min(limit.max(1));
        let own = &mut self.lanes[lane];
        let target = own.estimate / 3.0;
        let module = own.units.front()?.module;
        let mut tests: Vec<usize> = Vec::new();
        let mut estimate = 0.0;
        let mut units = 0;
        while let Some(unit) = own.units.front() {
            if unit.module != module
                || (units > 0
                    && (estimate + unit.estimate > target || tests.len() + unit.tests.len() > cap))
            {
                break;
            }
            let Some(unit) = own.units.pop_front() else {
                break;
            };
            estimate += unit.estimate;
            units += 1;
            tests.extend(unit.tests);
        }
        own.estimate = (own.estimate - estimate).max(0.0);
        if own.units.is_empty() {
            own.estimate = 0.0;
        }
        self.remaining_tests -= tests.len();
        let run_unlisted = std::mem::take(&mut self.unlisted_pending[module]);
        Some(Batch {
            module,
            tests,
            run_unlisted,
        })
    }

    /// Most tests one batch of `lane` may hold.
    fn batch_cap(&self, lane: usize) -> usize {
        if self.recorded {
            return MAX_BATCH_TESTS;
        }
        let per_batch = match self.seen {
            (_, 0) => 1,
            (sum, count) => {
                let mean = sum / count as f64;
                if mean <= 0.0 {
                    MAX_BATCH_TESTS
                } else {
                    (COLD_BATCH_SECONDS / mean).clamp(1.0, MAX_BATCH_TESTS as f64) as usize
                }
            }
        };
        // The tail shrinks: a third of what the lane has left.
        let left: usize = self.lanes[lane].units.iter().map(|u| u.tests.len()).sum();
        per_batch.min(left.div_ceil(3).max(1))
    }

    /// Moves the back of the lane whose worker has the most work left (sent
    /// and unsent, `sent[v]` the former) into `thief`'s empty lane: half of
    /// that work, at least one unit, so that both end together. False when
    /// nothing may be taken.
    fn steal(&mut self, thief: usize, sent: &[f64]) -> bool {
        let left = |v: usize| self.lanes[v].estimate + sent.get(v).copied().unwrap_or(0.0);
        let victim = (0..self.lanes.len())
            .filter(|&v| v != thief && !self.lanes[v].units.is_empty())
            .max_by(|&a, &b| left(a).total_cmp(&left(b)).then(b.cmp(&a)));
        let Some(victim) = victim else {
            return false;
        };
        if self.recorded && self.lanes[victim].estimate <= self.steal_margin {
            return false;
        }
        // A hair over half: sums of equal estimates must not lose a unit to rounding.
        let half = left(victim) / 2.0 * (1.0 + 1e-9);
        let mut taken: VecDeque<Unit> = VecDeque::new();
        let mut stolen = 0.0;
        while let Some(unit) = self.lanes[victim].units.back() {
            if !taken.is_empty() && stolen + unit.estimate > half {
                break;
            }
            stolen += unit.estimate;
            if let Some(unit) = self.lanes[victim].units.pop_back() {
                taken.push_front(unit);
            }
        }
        self.lanes[victim].recount();
        let own = &mut self.lanes[thief];
        own.units = taken;
        own.recount();
        !own.units.is_empty()
    }

    /// Puts tests that were sent to the worker of `lane` but never run back
    /// at the front of its lane.
    pub fn requeue(&mut self, lane: usize, tests: &[usize], table: &[TestEntry]) {
        let Some(own) = self.lanes.get_mut(lane) else {
            return;
        };
        for unit in units_of(tests, table).into_iter().rev() {
            self.remaining_tests += unit.tests.len();
            own.estimate += unit.estimate;
            own.units.push_front(unit);
        }
    }

    /// Puts tests of `module` that its import showed (found by the worker of
    /// `lane`, in the module's order) into that lane, right after the module's
    /// last unit there, or at its front: they are handed out in batches like
    /// planned tests, and a worker that runs dry may take them over, importing
    /// the module itself, so that a module whose tests are made at import is
    /// spread over the workers as a static one is. Grouped by class, as
    /// [`units_of`] groups them.
    pub fn add_found(&mut self, lane: usize, tests: &[usize], table: &[TestEntry]) {
        let Some(own) = self.lanes.get_mut(lane) else {
            return;
        };
        let Some(module) = tests.first().map(|&t| table[t].module) else {
            return;
        };
        let at = own
            .units
            .iter()
            .rposition(|u| u.module == module)
            .map_or(0, |i| i + 1);
        let units = units_of(tests, table);
        self.remaining_tests += tests.len();
        own.estimate += units.iter().map(|u| u.estimate).sum::<f64>();
        let tail = own.units.split_off(at);
        own.units.extend(units);
        own.units.extend(tail);
    }

    /// Puts the tests of `module` not yet handed out in the order `rank`
    /// gives (lowest first, ties in their current order): the module's own
    /// order, learnt when a worker imported it. In each lane, the module's
    /// tests take the place of its first unit there.
    pub fn reorder_module(
        &mut self,
        module: usize,
        table: &[TestEntry],
        rank: impl Fn(usize) -> usize,
    ) {
        for lane in &mut self.lanes {
            let Some(at) = lane.units.iter().position(|u| u.module == module) else {
                continue;
            };
            let mut tests: Vec<usize> = Vec::new();
            let mut kept = VecDeque::with_capacity(lane.units.len());
            for unit in lane.units.drain(..) {
                if unit.module == module && !unit.tests.is_empty() {
                    tests.extend(unit.tests);
                } else {
                    kept.push_back(unit);
                }
            }
            tests.sort_by_key(|&t| rank(t));
            let at = at.min(kept.len());
            let mut rebuilt: VecDeque<Unit> = kept.drain(..at).collect();
            if self.whole.get(module).copied().unwrap_or(false) {
                rebuilt.extend(whole_unit(module, tests, table));
            } else {
                rebuilt.extend(units_of(&tests, table));
            }
            rebuilt.extend(kept);
            lane.units = rebuilt;
        }
    }

    /// Takes the units at the front of `lane` that belong to `module` and whose
    /// first test satisfies `wanted` (for a batch already handed out).
    pub fn take_front_while(
        &mut self,
        lane: usize,
        module: usize,
        wanted: impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        let Some(own) = self.lanes.get_mut(lane) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        while own.units.front().is_some_and(|unit| {
            unit.module == module && unit.tests.first().is_some_and(|&t| wanted(t))
        }) {
            let Some(unit) = own.units.pop_front() else {
                break;
            };
            own.estimate = (own.estimate - unit.estimate).max(0.0);
            self.remaining_tests -= unit.tests.len();
            taken.extend(unit.tests);
        }
        taken
    }

    /// Removes and returns everything not yet handed out (when a run stops early).
    pub fn drain(&mut self) -> Vec<usize> {
        let mut left = Vec::new();
        for lane in &mut self.lanes {
            lane.estimate = 0.0;
            for unit in lane.units.drain(..) {
                left.extend(unit.tests);
            }
        }
        self.unlisted_pending.iter_mut().for_each(|p| *p = false);
        self.remaining_tests = 0;
        left.sort_unstable();
        left
    }
}
