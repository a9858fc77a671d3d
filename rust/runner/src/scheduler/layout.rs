//! The plan made before anything runs: the run's units in one order, cut into
//! one contiguous lane per worker of (nearly) equal estimated work. Pure: the
//! same tests, options, worker count and estimates give the same lanes.

use super::{ModuleFlags, TestEntry, Unit};
use std::collections::VecDeque;

/// Estimates below this count as this (seconds): trivial tests' timings
/// differ from run to run by more than they weigh.
const FLOOR: f64 = 5e-5;
/// Estimates are rounded to this many steps per doubling.
const STEPS_PER_DOUBLING: f64 = 2.0;
/// A cut may move this share of a lane's work away from the ideal point to
/// fall between two modules rather than inside one.
pub(super) const MODULE_CUT_TOLERANCE: f64 = 0.05;

/// A recorded duration as the plan uses it: at least [`FLOOR`], rounded to the
/// nearest step of a grid of ratio √2. A test that took 0.30 s last time and
/// 0.33 s this time plans the same, so slightly changed durations do not move
/// work between workers.
pub(crate) fn quantize(seconds: f64) -> f64 {
    if !seconds.is_finite() || seconds <= FLOOR {
        return FLOOR;
    }
    let steps = (seconds / FLOOR).log2() * STEPS_PER_DOUBLING;
    FLOOR * (steps.round() / STEPS_PER_DOUBLING).exp2()
}

/// How the run's units are ordered.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Order {
    /// A module's test functions longest first (with recorded durations and
    /// more than one worker): a long one does not start last.
    pub longest_functions_first: bool,
    /// `--shuffle`: modules, units within modules and tests within a unit in
    /// an order drawn from this seed.
    pub shuffle: Option<u64>,
}

/// Consecutive tests of one module and group form a unit.
pub(super) fn units_of(tests: &[usize], table: &[TestEntry]) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::with_capacity(tests.len());
    for &t in tests {
        let entry = &table[t];
        let joins_last = entry.group.is_some()
            && units.last().is_some_and(|u| {
                u.tests.first().is_some_and(|&head| {
                    table[head].group == entry.group && table[head].module == entry.module
                })
            });
        match (joins_last, units.last_mut()) {
            (true, Some(unit)) => {
                unit.tests.push(t);
                unit.estimate += entry.estimate;
            }
            _ => units.push(Unit {
                module: entry.module,
                tests: vec![t],
                estimate: entry.estimate,
            }),
        }
    }
    units
}

/// All of `tests` as one unit of `module` (none when there are no tests).
pub(super) fn whole_unit(module: usize, tests: Vec<usize>, table: &[TestEntry]) -> Option<Unit> {
    let estimate = tests.iter().map(|&t| table[t].estimate).sum();
    (!tests.is_empty()).then_some(Unit {
        module,
        tests,
        estimate,
    })
}

/// Orders a module's module-level test functions longest first, leaving every
/// test of a class where the file put it, whether the class is one unit or not:
/// suites often carry state from one class to the next and from one method to
/// the next (a plain class's methods share the module's caches and patches),
/// while module-level functions are usually independent.
fn longest_functions_first(units: &mut [Unit], table: &[TestEntry]) {
    let is_function = |unit: &Unit| {
        unit.tests.first().is_some_and(|&t| {
            let entry = &table[t];
            entry.group.is_none() && !entry.name.contains("::")
        })
    };
    let slots: Vec<usize> = (0..units.len())
        .filter(|&i| is_function(&units[i]))
        .collect();
    let mut functions: Vec<Unit> = slots.iter().map(|&i| units[i].clone()).collect();
    // Stable: equal estimates keep the file's order.
    functions.sort_by(|a, b| b.estimate.total_cmp(&a.estimate));
    for (slot, unit) in slots.into_iter().zip(functions) {
        units[slot] = unit;
    }
}

/// SplitMix64: a small, well-mixed generator whose sequence is the same on
/// every platform, so a seed names one order everywhere.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Every unit of the run, in the order the plan deals them out: `--ff`
/// modules first, then the others, each in collection order (or shuffled).
/// A module imported only to find its tests, with none planned, is a unit
/// without tests of `probe_estimate`.
pub(super) fn ordered_units(
    table: &[TestEntry],
    modules: &[ModuleFlags],
    order: Order,
    probe_estimate: f64,
) -> Vec<Unit> {
    let mut by_module: Vec<Vec<usize>> = vec![Vec::new(); modules.len()];
    for (i, entry) in table.iter().enumerate() {
        by_module[entry.module].push(i);
    }
    let mut rng = order.shuffle.map(SplitMix);
    let mut module_order: Vec<usize> = (0..modules.len()).collect();
    if let Some(rng) = rng.as_mut() {
        rng.shuffle(&mut module_order);
    }
    // Stable: `--ff` modules first, each group in the order above.
    module_order.sort_by_key(|&m| !modules[m].first);
    // Sized once (at most a unit per test, plus the probes): grown by doubling,
    // a large run's list would briefly be held twice.
    let probes = (0..modules.len())
        .filter(|&m| by_module[m].is_empty() && modules[m].run_unlisted)
        .count();
    let mut sequence = Vec::with_capacity(table.len() + probes);
    for m in module_order {
        let tests = &by_module[m];
        if tests.is_empty() {
            if modules[m].run_unlisted {
                sequence.push(Unit {
                    module: m,
                    tests: Vec::new(),
                    estimate: probe_estimate,
                });
            }
            continue;
        }
        let mut units = units_of(tests, table);
        if let Some(rng) = rng.as_mut() {
            rng.shuffle(&mut units);
            for unit in &mut units {
                rng.shuffle(&mut unit.tests);
            }
        } else if order.longest_functions_first {
            longest_functions_first(&mut units, table);
        }
        if modules[m].whole {
            let tests = units.into_iter().flat_map(|u| u.tests).collect();
            sequence.extend(whole_unit(m, tests, table));
        } else {
            sequence.extend(units);
        }
    }
    sequence
}

/// Cuts `units` into `lanes` contiguous lanes of nearly equal estimate. Each
/// cut is the boundary closest to its ideal point (`j / lanes` of the work),
/// where a boundary inside a module counts [`MODULE_CUT_TOLERANCE`] of a lane
/// farther: a module is split only when that balances noticeably better.
pub(super) fn cut(units: Vec<Unit>, lanes: usize) -> Vec<VecDeque<Unit>> {
    let lanes = lanes.max(1);
    let mut prefix = Vec::with_capacity(units.len() + 1);
    prefix.push(0.0);
    for unit in &units {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + unit.estimate);
    }
    let total = prefix.last().copied().unwrap_or(0.0);
    let share = total / lanes as f64;
    let penalty = share * MODULE_CUT_TOLERANCE;
    let n = units.len();
    let mut bounds = vec![0usize];
    for j in 1..lanes {
        let previous = bounds.last().copied().unwrap_or(0);
        // Leave at least one unit to each lane after this one, when there are enough.
        let last = n.saturating_sub(lanes - j).max(previous);
        let first = (previous + 1).min(last);
        let ideal = share * j as f64;
        let score = |b: usize| {
            let inside = b > 0 && b < n && units[b - 1].module == units[b].module;
            (prefix[b] - ideal).abs() + if inside { penalty } else { 0.0 }
        };
        let best = (first..=last)
            .min_by(|&a, &b| score(a).total_cmp(&score(b)).then(a.cmp(&b)))
            .unwrap_or(previous);
        bounds.push(best);
    }
    bounds.push(n);
    // Split from the back; the first lane keeps the list's own buffer (with
    // one worker, nothing is copied).
    let mut units = units;
    let mut lanes: Vec<VecDeque<Unit>> = bounds[1..bounds.len() - 1]
        .iter()
        .rev()
        .map(|&start| VecDeque::from(units.split_off(start)))
        .collect();
    units.shrink_to_fit();
    lanes.push(VecDeque::from(units));
    lanes.reverse();
    lanes
}

/// What the run would do if every test took its estimate: a lane that
/// finishes first takes over the back of the lane that finishes last while
/// that shortens the run (only past what the module-friendly cuts allow).
/// The result is still a pure function of the inputs.
pub(super) fn balance(lanes: &mut [VecDeque<Unit>]) {
    let finish = |lane: &VecDeque<Unit>| lane.iter().map(|u| u.estimate).sum::<f64>();
    let total: f64 = lanes.iter().map(finish).sum();
    let slack = 2.0 * MODULE_CUT_TOLERANCE * total / lanes.len().max(1) as f64;
    for _ in 0..lanes.len() * 8 {
        let ends: Vec<f64> = lanes.iter().map(finish).collect();
        let order = |a: &usize, b: &usize| ends[*a].total_cmp(&ends[*b]);
        // The first to finish (lowest index on ties), the last (lowest index on ties).
        let (Some(thief), Some(victim)) = (
            (0..lanes.len()).min_by(|a, b| order(a, b).then(a.cmp(b))),
            (0..lanes.len()).max_by(|a, b| order(a, b).then(b.cmp(a))),
        ) else {
            return;
        };
        if thief == victim || ends[victim] - ends[thief] <= slack {
            return;
        }
        // Units of the victim not yet started when the thief runs dry.
        let mut start = 0.0;
        let mut movable = 0;
        for (i, unit) in lanes[victim].iter().enumerate() {
            if start >= ends[thief] {
                movable = lanes[victim].len() - i;
                break;
            }
            start += unit.estimate;
        }
        let mut taken: VecDeque<Unit> = VecDeque::new();
        let mut stolen = 0.0;
        while taken.len() < movable {
            let Some(unit) = lanes[victim].back() else {
                break;
            };
            if ends[thief] + stolen + unit.estimate >= ends[victim] - stolen {
                break;
            }
            stolen += unit.estimate;
            if let Some(unit) = lanes[victim].pop_back() {
                taken.push_front(unit);
            }
        }
        if taken.is_empty() {
            return;
        }
        lanes[thief].extend(taken);
    }
}
