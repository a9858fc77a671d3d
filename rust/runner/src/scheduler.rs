//! Decides which tests a worker runs next. Pure bookkeeping, no I/O.
//!
//! Work is cut into units (a test, or a whole class that must stay on one worker)
//! and handed out in batches from one module at a time:
//! - a worker keeps getting its current module's units (module affinity: the
//!   import is paid once);
//! - otherwise it opens the untouched module with the most estimated work
//!   (longest first);
//! - otherwise it steals from the module with the most work left: from the back,
//!   so the owner keeps its file order, or, when units are ordered longest first,
//!   from the front.
//!
//! Batches shrink as the run nears its end (a third of each worker's share of
//! the remaining estimate), so the tail spreads across workers instead of
//! waiting on one long queue.

use std::collections::VecDeque;

/// Largest number of tests sent in one batch (bounds frame size and lost work).
const MAX_BATCH_TESTS: usize = 1000;

/// One test as the scheduler and dispatcher see it.
#[derive(Debug, Clone)]
pub(crate) struct TestEntry {
    /// Name within its module; the id is `<module rel>::<name>`.
    pub name: String,
    pub module: usize,
    pub group: Option<String>,
    pub timeout: Option<f64>,
    pub estimate: f64,
}

/// Per-module scheduling flags.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ModuleFlags {
    /// Import it once to find tests the static pass could not see.
    pub run_unlisted: bool,
    /// Open it before modules without the flag.
    pub first: bool,
}

/// Tests handed to one worker in one `run` message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Batch {
    pub module: usize,
    pub tests: Vec<usize>,
    pub run_unlisted: bool,
}

#[derive(Debug, Clone)]
struct Unit {
    tests: Vec<usize>,
    estimate: f64,
}

#[derive(Debug, Default)]
struct ModuleQueue {
    units: VecDeque<Unit>,
    estimate: f64,
    started: bool,
    unlisted_pending: bool,
    /// Opened before any module without it.
    first: bool,
}

pub(crate) struct Scheduler {
    queues: Vec<ModuleQueue>,
    remaining_tests: usize,
    remaining_estimate: f64,
    workers: usize,
    /// Units are sorted by estimate, so thieves take from the front too.
    longest_first: bool,
}

/// Consecutive tests of one module and group form a unit.
fn units_of(tests: &[usize], table: &[TestEntry]) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    for &t in tests {
        let entry = &table[t];
        let joins_last = entry.group.is_some()
            && units.last().is_some_and(|u| {
                let head = &table[u.tests[0]];
                head.group == entry.group && head.module == entry.module
            });
        match (joins_last, units.last_mut()) {
            (true, Some(unit)) => {
                unit.tests.push(t);
                unit.estimate += entry.estimate;
            }
            _ => units.push(Unit {
                tests: vec![t],
                estimate: entry.estimate,
            }),
        }
    }
    units
}

/// Orders a module's single-test units (module-level functions) longest first,
/// leaving every class unit where the file put it: suites often carry state from
/// one class to the next, while functions are usually independent.
fn longest_functions_first(units: &mut [Unit], table: &[TestEntry]) {
    let is_function = |unit: &Unit| table[unit.tests[0]].group.is_none();
    let slots: Vec<usize> = (0..units.len())
        .filter(|&i| is_function(&units[i]))
        .collect();
    let mut functions: Vec<Unit> = slots.iter().map(|&i| units[i].clone()).collect();
    functions.sort_by(|a, b| b.estimate.total_cmp(&a.estimate));
    for (slot, unit) in slots.into_iter().zip(functions) {
        units[slot] = unit;
    }
}

impl Scheduler {
    /// One [`ModuleFlags`] per module. With `longest_first`, the module-level
    /// functions of a module are ordered by estimate (see [`longest_functions_first`]).
    pub fn new(
        table: &[TestEntry],
        modules: &[ModuleFlags],
        workers: usize,
        longest_first: bool,
    ) -> Self {
        let mut queues: Vec<ModuleQueue> = modules
            .iter()
            .map(|flags| ModuleQueue {
                unlisted_pending: flags.run_unlisted,
                first: flags.first,
                ..ModuleQueue::default()
            })
            .collect();
        let mut by_module: Vec<Vec<usize>> = vec![Vec::new(); modules.len()];
        for (i, entry) in table.iter().enumerate() {
            by_module[entry.module].push(i);
        }
        let mut scheduler = Scheduler {
            queues: Vec::new(),
            remaining_tests: 0,
            remaining_estimate: 0.0,
            workers: workers.max(1),
            longest_first,
        };
        for (module, tests) in by_module.iter().enumerate() {
            let mut units = units_of(tests, table);
            if longest_first && workers > 1 {
                longest_functions_first(&mut units, table);
            }
            let queue = &mut queues[module];
            for unit in units {
                queue.estimate += unit.estimate;
                scheduler.remaining_tests += unit.tests.len();
                scheduler.remaining_estimate += unit.estimate;
                queue.units.push_back(unit);
            }
        }
        scheduler.queues = queues;
        scheduler
    }

    pub fn is_empty(&self) -> bool {
        self.remaining_tests == 0 && !self.queues.iter().any(|q| q.unlisted_pending)
    }

    pub fn remaining_tests(&self) -> usize {
        self.remaining_tests
    }

    fn has_work(queue: &ModuleQueue) -> bool {
        !queue.units.is_empty() || queue.unlisted_pending
    }

    /// The next batch, of at most `limit` tests (a whole unit may exceed it),
    /// for a worker whose last module was `affinity`.
    pub fn next_batch(&mut self, affinity: Option<usize>, limit: usize) -> Option<Batch> {
        let (module, steal) = match affinity {
            Some(m) if self.queues.get(m).is_some_and(Self::has_work) => (m, false),
            _ => {
                let fresh = self
                    .queues
                    .iter()
                    .enumerate()
                    .filter(|(_, q)| !q.started && Self::has_work(q))
                    .max_by(|a, b| {
                        // One worker gains nothing from reordering modules, and
                        // file order is what a serial runner (pytest) does.
                        let by_size = if self.workers > 1 {
                            a.1.estimate.total_cmp(&b.1.estimate)
                        } else {
                            std::cmp::Ordering::Equal
                        };
                        (a.1.first.cmp(&b.1.first))
                            .then(by_size)
                            .then(b.0.cmp(&a.0))
                    });
                match fresh {
                    Some((m, _)) => (m, false),
                    None => {
                        let busiest = self
                            .queues
                            .iter()
                            .enumerate()
                            .filter(|(_, q)| Self::has_work(q))
                            .max_by(|a, b| {
                                a.1.estimate.total_cmp(&b.1.estimate).then(b.0.cmp(&a.0))
                            })?;
                        (busiest.0, true)
                    }
                }
            }
        };
        let steal = steal && !self.longest_first;
        let target = self.remaining_estimate / (self.workers as f64 * 3.0);
        let queue = &mut self.queues[module];
        queue.started = true;
        let run_unlisted = std::mem::take(&mut queue.unlisted_pending);
        let mut units: Vec<Unit> = Vec::new();
        let mut count = 0;
        let mut estimate = 0.0;
        let cap = MAX_BATCH_TESTS.min(limit.max(1));
        while count < cap {
            let next = if steal {
                queue.units.back()
            } else {
                queue.units.front()
            };
            let Some(unit) = next else { break };
            if count > 0 && (estimate + unit.estimate > target || count + unit.tests.len() > cap) {
                break;
            }
            let unit = if steal {
                queue.units.pop_back()
            } else {
                queue.units.pop_front()
            };
            let Some(unit) = unit else { break };
            estimate += unit.estimate;
            count += unit.tests.len();
            units.push(unit);
        }
        // A thief takes units from the back; they still run in file order, and a
        // unit's own tests are never reordered.
        if steal {
            units.reverse();
        }
        let tests: Vec<usize> = units.into_iter().flat_map(|u| u.tests).collect();
        queue.estimate -= estimate;
        self.remaining_estimate -= estimate;
        self.remaining_tests -= tests.len();
        Some(Batch {
            module,
            tests,
            run_unlisted,
        })
    }

    /// Puts tests that were sent but never run back at the front of their modules.
    pub fn requeue(&mut self, tests: &[usize], table: &[TestEntry]) {
        for unit in units_of(tests, table).into_iter().rev() {
            let queue = &mut self.queues[table[unit.tests[0]].module];
            queue.estimate += unit.estimate;
            self.remaining_tests += unit.tests.len();
            self.remaining_estimate += unit.estimate;
            queue.units.push_front(unit);
        }
    }

    /// Puts the tests of `module` not yet handed out in the order `rank`
    /// gives (lowest first, ties in their current order): the module's own
    /// order, learnt when a worker imported it.
    pub fn reorder_module(
        &mut self,
        module: usize,
        table: &[TestEntry],
        rank: impl Fn(usize) -> usize,
    ) {
        let Some(queue) = self.queues.get_mut(module) else {
            return;
        };
        let mut tests: Vec<usize> = queue.units.drain(..).flat_map(|u| u.tests).collect();
        tests.sort_by_key(|&t| rank(t));
        queue.units = units_of(&tests, table).into();
    }

    /// Takes the units at the front of `module`'s queue whose first test
    /// satisfies `wanted` (for a batch already handed out).
    pub fn take_front_while(
        &mut self,
        module: usize,
        wanted: impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        let Some(queue) = self.queues.get_mut(module) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        while queue
            .units
            .front()
            .is_some_and(|unit| wanted(unit.tests[0]))
        {
            let Some(unit) = queue.units.pop_front() else {
                break;
            };
            queue.estimate -= unit.estimate;
            self.remaining_estimate -= unit.estimate;
            self.remaining_tests -= unit.tests.len();
            taken.extend(unit.tests);
        }
        taken
    }

    /// Removes and returns everything not yet handed out (when a run stops early).
    pub fn drain(&mut self) -> Vec<usize> {
        let mut left = Vec::new();
        for queue in &mut self.queues {
            queue.unlisted_pending = false;
            queue.estimate = 0.0;
            for unit in queue.units.drain(..) {
                left.extend(unit.tests);
            }
        }
        self.remaining_tests = 0;
        self.remaining_estimate = 0.0;
        left.sort_unstable();
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(run_unlisted: &[bool]) -> Vec<ModuleFlags> {
        run_unlisted
            .iter()
            .map(|&run_unlisted| ModuleFlags {
                run_unlisted,
                first: false,
            })
            .collect()
    }

    #[test]
    fn modules_marked_first_open_first() {
        let table = vec![entry(0, None, 5.0), entry(1, None, 1.0)];
        let modules = [
            ModuleFlags::default(),
            ModuleFlags {
                run_unlisted: false,
                first: true,
            },
        ];
        let mut s = Scheduler::new(&table, &modules, 1, false);
        assert_eq!(s.next_batch(None, usize::MAX).unwrap().module, 1);
    }

    fn entry(module: usize, group: Option<&str>, estimate: f64) -> TestEntry {
        TestEntry {
            name: String::new(),
            module,
            group: group.map(str::to_string),
            timeout: None,
            estimate,
        }
    }

    #[test]
    fn a_reordered_module_hands_out_its_tests_in_the_new_order() {
        let table = vec![
            entry(0, None, 1.0),
            entry(0, Some("A"), 1.0),
            entry(0, None, 1.0),
            entry(0, Some("A"), 1.0),
        ];
        let mut scheduler = Scheduler::new(&table, &flags(&[false]), 1, false);
        let rank = [3, 0, 2, 1];
        scheduler.reorder_module(0, &table, |t| rank[t]);
        let mut order = Vec::new();
        while let Some(batch) = scheduler.next_batch(Some(0), usize::MAX) {
            order.extend(batch.tests);
        }
        assert_eq!(
            order,
            [1, 3, 2, 0],
            "the class's tests, now adjacent, form one unit"
        );
        assert!(scheduler.is_empty());
    }

    #[test]
    fn classes_stay_together_and_every_test_is_handed_out_once() {
        let table = vec![
            entry(0, Some("A"), 1.0),
            entry(0, Some("A"), 1.0),
            entry(0, None, 1.0),
            entry(1, None, 1.0),
        ];
        let mut s = Scheduler::new(&table, &flags(&[false, false]), 4, false);
        let mut seen = Vec::new();
        let mut affinity = None;
        while let Some(batch) = s.next_batch(affinity, usize::MAX) {
            if batch.tests.contains(&0) {
                assert!(batch.tests.contains(&1), "class split: {batch:?}");
            }
            affinity = Some(batch.module);
            seen.extend(batch.tests);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2, 3]);
        assert!(s.is_empty());
    }

    #[test]
    fn biggest_module_first_then_affinity_then_stealing_from_the_back() {
        let mut table: Vec<TestEntry> = (0..6).map(|_| entry(0, None, 1.0)).collect();
        table.push(entry(1, None, 1.0));
        let mut s = Scheduler::new(&table, &flags(&[false, false]), 2, false);
        let first = s.next_batch(None, usize::MAX).unwrap();
        assert_eq!(first.module, 0);
        let second = s.next_batch(None, usize::MAX).unwrap();
        assert_eq!(second.module, 1, "a fresh module before stealing");
        let stolen = s.next_batch(Some(1), usize::MAX).unwrap();
        assert_eq!(stolen.module, 0);
        assert_eq!(*stolen.tests.last().unwrap(), 5, "steals from the back");
    }

    #[test]
    fn a_thief_keeps_the_order_of_units_and_of_the_tests_inside_them() {
        let mut table: Vec<TestEntry> = (0..4).map(|_| entry(0, None, 1.0)).collect();
        table.extend((0..3).map(|_| entry(0, Some("C"), 0.1)));
        table.push(entry(1, None, 1.0));
        let mut s = Scheduler::new(&table, &flags(&[false, false]), 2, false);
        let first = s.next_batch(None, usize::MAX).unwrap();
        assert_eq!(first.tests, [0]);
        assert_eq!(s.next_batch(None, usize::MAX).unwrap().module, 1);
        let stolen = s.next_batch(Some(1), usize::MAX).unwrap();
        let mut sorted = stolen.tests.clone();
        sorted.sort_unstable();
        assert_eq!(
            stolen.tests, sorted,
            "stolen units run in file order: {stolen:?}"
        );
        assert!(stolen.tests.ends_with(&[4, 5, 6]), "{stolen:?}");
    }

    #[test]
    fn batches_shrink_towards_the_end() {
        let table: Vec<TestEntry> = (0..120).map(|_| entry(0, None, 0.01)).collect();
        let mut s = Scheduler::new(&table, &flags(&[false]), 2, false);
        let mut sizes = Vec::new();
        while let Some(batch) = s.next_batch(Some(0), usize::MAX) {
            sizes.push(batch.tests.len());
        }
        assert!(sizes[0] > 10, "{sizes:?}");
        assert_eq!(*sizes.last().unwrap(), 1, "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 120);
    }

    #[test]
    fn longest_first_puts_long_units_early_and_alone() {
        let mut table: Vec<TestEntry> = (0..20).map(|_| entry(0, None, 0.005)).collect();
        table.push(entry(0, None, 1.5));
        table.push(entry(0, None, 1.5));
        let mut s = Scheduler::new(&table, &flags(&[false]), 2, true);
        let a = s.next_batch(None, usize::MAX).unwrap();
        let b = s.next_batch(None, usize::MAX).unwrap();
        assert_eq!(a.tests, [20]);
        assert_eq!(b.tests, [21]);
    }

    #[test]
    fn probe_modules_are_handed_out_once_and_requeue_restores_work() {
        let table = vec![entry(1, None, 1.0), entry(1, None, 1.0)];
        let mut s = Scheduler::new(&table, &flags(&[true, false]), 1, false);
        let mut batches = Vec::new();
        while let Some(b) = s.next_batch(None, usize::MAX) {
            batches.push(b);
        }
        let probe: Vec<_> = batches.iter().filter(|b| b.run_unlisted).collect();
        assert_eq!(probe.len(), 1);
        assert!(probe[0].tests.is_empty());
        s.requeue(&[1], &table);
        assert_eq!(s.next_batch(None, usize::MAX).unwrap().tests, [1]);
        assert!(s.is_empty());
    }
}
