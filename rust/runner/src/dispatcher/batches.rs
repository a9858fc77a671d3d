//! Batch bookkeeping: what each worker has been sent and how far it got
//! ([`InFlight`]), handing out batches (`refill`), and growing a batch with the
//! tests its module showed at import (`on_imported`).

use super::{Dispatcher, Live};
use crate::plan::PlannedModule;
use crate::scheduler::TestEntry;
use dbtest_model::{ErrorKind, Phase};
use dbtest_protocol::{Discovered, Extend, Imported, RunBatch, ToWorker};
use std::collections::HashMap;
use std::time::Instant;

/// Estimated seconds below which a running batch gets a second one queued.
const PREFETCH_BELOW: f64 = 0.02;
/// Estimated seconds below which a batch's last test, once started, gets the
/// next batch queued behind it.
const PREFETCH_LAST_BELOW: f64 = 0.1;

pub(super) struct InFlight {
    pub(super) batch: u32,
    pub(super) module: usize,
    /// Test indices by position: the listed tests, then admitted unlisted ones.
    pub(super) tests: Vec<usize>,
    /// Positions in the order the worker runs them (results arrive in this order).
    pub(super) order: Vec<usize>,
    /// How many of `order` have reported.
    pub(super) next: usize,
    pub(super) imported: bool,
    /// How many names the `run` message's `known` carried.
    pub(super) known: usize,
    /// Estimated seconds the batch takes.
    pub(super) estimate: f64,
    /// A rerun alone of a failed test: where the run's result of it sits.
    pub(super) check: Option<usize>,
}

impl InFlight {
    pub(super) fn current(&self) -> Option<usize> {
        self.order.get(self.next).map(|&p| self.tests[p])
    }

    /// Tests after the current one, in run order.
    pub(super) fn after_current(&self) -> impl Iterator<Item = usize> + '_ {
        self.order
            .iter()
            .skip(self.next + 1)
            .map(|&p| self.tests[p])
    }

    /// The current test and everything after it.
    pub(super) fn unfinished(&self) -> impl Iterator<Item = usize> + '_ {
        self.order.iter().skip(self.next).map(|&p| self.tests[p])
    }
}

/// Run order after admitting unlisted tests: each one goes right after the last
/// test of its class already in the batch (so the class's set-up runs once),
/// or at the end.
pub(super) fn merged_order(groups: &[Option<&str>], listed: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..listed).collect();
    for position in listed..groups.len() {
        let slot = groups[position]
            .and_then(|g| order.iter().rposition(|&p| groups[p] == Some(g)))
            .map_or(order.len(), |i| i + 1);
        order.insert(slot, position);
    }
    order
}

/// Tests found at import are spread over the workers when their estimated
/// work is more than this many times the module's import.
const SPREAD_IMPORT_FACTOR: f64 = 2.0;

/// A test found at import and admitted: (index in `imported.unlisted`, test index).
type Admitted = (usize, usize);

/// Batch `batch` of a worker, if it is in flight there.
fn live_flight(live: &Option<Live>, batch: u32) -> Option<&InFlight> {
    live.as_ref()
        .and_then(|live| live.inflight.iter().find(|f| f.batch == batch))
}

/// The tests of batch `batch` on a worker, as sent.
fn flight_tests(live: &Option<Live>, batch: u32) -> Vec<usize> {
    live.as_ref()
        .and_then(|live| live.inflight.iter().find(|f| f.batch == batch))
        .map(|f| f.tests.clone())
        .unwrap_or_default()
}

/// Whether `order` names each of `0..len` exactly once.
fn is_permutation(order: &[usize], len: usize) -> bool {
    let mut seen = vec![false; len];
    order.len() == len
        && order
            .iter()
            .all(|&p| p < len && !std::mem::replace(&mut seen[p], true))
}

impl Dispatcher<'_> {
    /// Batches to keep queued on a worker. A second one only pays when the
    /// round trip to the coordinator would idle the worker noticeably (a short
    /// running batch) or when it commits little work early (the running batch
    /// is on its last test, and that test is short); otherwise it would only
    /// commit work early.
    pub(super) fn prefetch_depth(&self, live: &Live) -> usize {
        let Some(head) = live.inflight.front() else {
            return 1;
        };
        let short_batch = head.estimate < PREFETCH_BELOW
            && self.scheduler.remaining_tests() >= self.slots.len() * 8;
        // Without a batch queued, the worker idles at the end of each batch for
        // a round trip. Once the last test of the batch is running, queuing the
        // next commits work only that test's duration early.
        let on_short_last = head.next + 1 == head.order.len()
            && head
                .current()
                .is_some_and(|test| self.table[test].estimate < PREFETCH_LAST_BELOW);
        let stops_early = self.options.max_failures.is_some() || self.options.time_budget.is_some();
        if !stops_early && (short_batch || on_short_last) {
            2
        } else {
            1
        }
    }

    /// Per slot: the estimated work its worker was sent and has not finished.
    fn unfinished_estimates(&self) -> Vec<f64> {
        self.slots
            .iter()
            .map(|live| {
                live.as_ref().map_or(0.0, |live| {
                    live.inflight
                        .iter()
                        .flat_map(|flight| flight.unfinished())
                        .map(|test| self.table[test].estimate)
                        .sum()
                })
            })
            .collect()
    }

    pub(super) fn refill(&mut self, slot: usize) {
        if self.outcome.stopped.is_some() {
            return;
        }
        loop {
            let Some(live) = self.slots[slot].as_ref() else {
                return;
            };
            if live.inflight.len() >= self.prefetch_depth(live) || live.retiring {
                return;
            }
            let budget = match self.options.max_tests_per_worker {
                Some(max) if live.tests_sent >= max => return,
                Some(max) => max - live.tests_sent,
                None => usize::MAX,
            };
            let budget = if self.options.time_budget.is_some() {
                budget.min(super::budget::BUDGET_BATCH)
            } else {
                budget
            };
            let idle = live.inflight.is_empty();
            let sent = if idle {
                self.unfinished_estimates()
            } else {
                Vec::new()
            };
            let Some(batch) = self
                .scheduler
                .next_batch(slot, budget, idle.then_some(&sent[..]))
            else {
                if idle {
                    self.start_check(slot);
                }
                return;
            };
            let id = self.next_batch;
            self.next_batch += 1;
            // Every static test of the module, planned or not (a module is
            // handed out with `run_unlisted` once).
            let known: Vec<String> = if batch.run_unlisted {
                let unplanned = std::mem::take(&mut self.modules[batch.module].unplanned);
                self.table[self.planned[batch.module].clone()]
                    .iter()
                    .map(|t| t.name.to_string())
                    .chain(unplanned)
                    .collect()
            } else {
                Vec::new()
            };
            let module: &PlannedModule = &self.modules[batch.module];
            let message = ToWorker::Run(RunBatch {
                batch: id,
                module: module.module.clone(),
                tests: batch
                    .tests
                    .iter()
                    .map(|&t| self.table[t].name.to_string())
                    .collect(),
                run_unlisted: batch.run_unlisted,
                known,
                collect_only: self.options.collect_only,
            });
            let known = match &message {
                ToWorker::Run(run) => run.known.len(),
                _ => 0,
            };
            let Some(live) = self.slots[slot].as_mut() else {
                return;
            };
            if live.inflight.is_empty() {
                live.last_activity = Instant::now();
            }
            if let Err(err) = live.process.send(&message) {
                self.observer.warning(&format!(
                    "cannot send a batch to worker {}: {err}",
                    slot + 1
                ));
            }
            live.tests_sent += batch.tests.len();
            let estimate = batch.tests.iter().map(|&t| self.table[t].estimate).sum();
            live.inflight.push_back(InFlight {
                estimate,
                batch: id,
                module: batch.module,
                order: (0..batch.tests.len()).collect(),
                tests: batch.tests,
                next: 0,
                imported: false,
                known,
                check: None,
            });
        }
    }

    pub(super) fn on_imported(&mut self, slot: usize, imported: Imported) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let Some(flight) = live.inflight.iter_mut().find(|f| f.batch == imported.batch) else {
            return self.protocol_violation(
                slot,
                format!("`imported` for unknown batch {}", imported.batch),
            );
        };
        flight.imported = true;
        let module = flight.module;
        if self.options.collect_only {
            return self.on_collected(module, imported);
        }
        let known = flight.known;
        let everything = known + imported.unlisted.len();
        let wanted: Vec<usize> = imported.order.iter().map(|&p| p as usize).collect();
        // Under --shuffle the drawn order stands (the worker's is still checked).
        let follow_order = self.options.shuffle.is_none() && !self.options.planned_order;
        if !wanted.is_empty() && !is_permutation(&wanted, everything) {
            return self.protocol_violation(
                slot,
                format!(
                    "`imported` order for batch {} is not an order of its module's {everything} tests",
                    imported.batch
                ),
            );
        }
        if imported.unlisted.is_empty() && wanted.is_empty() {
            return;
        }
        let chosen = self.admit_unlisted(module, &imported.unlisted);
        let mut admitted: Vec<Option<usize>> = vec![None; imported.unlisted.len()];
        for &(index, test) in &chosen {
            admitted[index] = Some(test);
        }
        // Found tests of a class this batch runs join it (its set-up runs
        // once); the others may be spread over the workers.
        let batch_groups: Vec<&str> = live_flight(&self.slots[slot], imported.batch)
            .filter(|f| f.check.is_none())
            .map(|f| {
                f.tests
                    .iter()
                    .filter_map(|&t| self.table[t].group.as_deref())
                    .collect()
            })
            .unwrap_or_default();
        let (joins_batch, loose): (Vec<Admitted>, Vec<Admitted>) =
            chosen.iter().partition(|&&(_, test)| {
                self.table[test]
                    .group
                    .as_deref()
                    .is_some_and(|g| batch_groups.contains(&g))
            });
        let spread = live_flight(&self.slots[slot], imported.batch)
            .is_some_and(|f| f.check.is_none())
            && self.spreads_found(module, &loose, imported.duration);
        let chosen = if spread {
            // In the module's order (the worker's `order`, when it gave one,
            // is applied by `reorder_module` below).
            let found: Vec<usize> = loose.iter().map(|&(_, test)| test).collect();
            self.scheduler.add_found(slot, &found, &self.table);
            joins_batch
        } else {
            chosen
        };
        // The module's own order (pytest's, after grouping the tests that share
        // a parameter of a scope wider than the function), by test index.
        let planned = self.planned[module].clone();
        let rank: HashMap<usize, usize> = wanted
            .iter()
            .filter(|_| follow_order)
            .enumerate()
            .filter_map(|(rank, &k)| {
                let test = if k < known {
                    (k < planned.len()).then(|| planned.start + k)
                } else {
                    admitted[k - known]
                };
                test.map(|test| (test, rank))
            })
            .collect();
        let rank_of = |t: usize| rank.get(&t).copied().unwrap_or(0);
        let mut pulled = Vec::new();
        if !rank.is_empty() {
            self.scheduler.reorder_module(module, &self.table, rank_of);
            // Tests the module runs among this batch's join it, so that a
            // parameter's set-up is not repeated for them in a later batch.
            let last = chosen
                .iter()
                .map(|&(_, test)| test)
                .chain(flight_tests(&self.slots[slot], imported.batch))
                .map(rank_of)
                .max()
                .unwrap_or(0);
            pulled = self
                .scheduler
                .take_front_while(slot, module, |t| rank_of(t) < last);
        }
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let Some(flight) = live.inflight.iter_mut().find(|f| f.batch == imported.batch) else {
            return;
        };
        let listed = flight.tests.len();
        let mut positions = Vec::with_capacity(chosen.len());
        for (index, test) in chosen {
            positions.push(index as u32);
            flight.tests.push(test);
        }
        let names: Vec<String> = pulled
            .iter()
            .map(|&t| self.table[t].name.to_string())
            .collect();
        live.tests_sent += pulled.len();
        flight.tests.extend(&pulled);
        flight.estimate += pulled.iter().map(|&t| self.table[t].estimate).sum::<f64>();
        flight.order = if rank.is_empty() {
            let groups: Vec<Option<&str>> = flight
                .tests
                .iter()
                .map(|&t| self.table[t].group.as_deref())
                .collect();
            merged_order(&groups, listed)
        } else {
            let mut order: Vec<usize> = (0..flight.tests.len()).collect();
            order.sort_by_key(|&p| rank_of(flight.tests[p]));
            order
        };
        let message = ToWorker::Extend(Extend {
            batch: imported.batch,
            unlisted: positions,
            tests: names,
            order: flight.order.iter().map(|&p| p as u32).collect(),
        });
        if let Err(err) = live.process.send(&message) {
            self.observer
                .warning(&format!("cannot extend a batch: {err}"));
        }
        if spread {
            // Idle workers (or ones retired while the import was pending) may
            // take over part of what the module showed.
            self.keep_workers_busy();
        }
    }

    /// Whether the tests a module showed at import (`chosen`) go into the
    /// run's lanes, where other workers can take them over, rather than all
    /// into the batch that imported the module. The cost model: a worker that
    /// takes some over pays one more import of the module (`import_seconds`,
    /// as this worker measured it); that pays when the tests' estimated work
    /// is several times the import. A module with module-level set-up stays
    /// on one worker (its set-up runs once), and so does everything of a run
    /// with one worker.
    fn spreads_found(&self, module: usize, chosen: &[Admitted], import_seconds: f64) -> bool {
        if self.slots.len() < 2 || chosen.len() < 2 || self.modules[module].whole {
            return false;
        }
        let work: f64 = chosen
            .iter()
            .map(|&(_, test)| self.table[test].estimate)
            .sum();
        work > SPREAD_IMPORT_FACTOR * import_seconds.max(0.0)
    }

    /// Adds the selected tests a module showed at import to the run.
    /// Returns (index in `unlisted`, test index) pairs.
    pub(super) fn admit_unlisted(
        &mut self,
        module: usize,
        unlisted: &[Discovered],
    ) -> Vec<(usize, usize)> {
        let rel = &self.modules[module].rel;
        let mut chosen = Vec::new();
        for (index, found) in unlisted.iter().enumerate() {
            let id = dbtest_model::node_id(rel, &found.name);
            if !(self.select_unlisted)(&id, &found.tags) {
                continue;
            }
            let group = dbtest_model::unlisted_group(&found.name).map(Box::from);
            self.table.push(TestEntry {
                name: found.name.as_str().into(),
                module,
                group,
                timeout: None,
                estimate: self.fallback_estimate,
            });
            self.done.push(false);
            self.attempts.push(0);
            self.ran_in.push(0);
            chosen.push((index, self.table.len() - 1));
        }
        if !chosen.is_empty() {
            self.observer.tests_added(chosen.len());
        }
        chosen
    }

    pub(super) fn on_batch_done(&mut self, slot: usize, batch: u32) {
        let Some(live) = self.slots[slot].as_mut() else {
            return;
        };
        let Some(index) = live.inflight.iter().position(|f| f.batch == batch) else {
            return self
                .protocol_violation(slot, format!("`batch_done` for unknown batch {batch}"));
        };
        let Some(flight) = live.inflight.remove(index) else {
            return;
        };
        let unreported: Vec<usize> = if flight.check.is_some() {
            Vec::new()
        } else {
            flight.unfinished().collect()
        };
        for test in unreported {
            let result = self.error_result(
                test,
                slot as u32 + 1,
                ErrorKind::Protocol,
                Phase::Call,
                "the worker finished the batch without reporting this test".into(),
                None,
                0.0,
            );
            self.record(test, result);
        }
        self.maybe_recycle(slot);
        self.refill(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::{is_permutation, merged_order};

    #[test]
    fn an_admitted_test_follows_its_class_or_goes_last() {
        // Listed: A::a1, f, A::a2; admitted: B::b, A::a3, g.
        let groups = [Some("A"), None, Some("A"), Some("B"), Some("A"), None];
        assert_eq!(merged_order(&groups, 3), [0, 1, 2, 4, 3, 5]);
        assert_eq!(merged_order(&groups[..3], 3), [0, 1, 2], "nothing admitted");
    }

    #[test]
    fn a_worker_order_must_name_every_position_once() {
        assert!(is_permutation(&[2, 0, 1], 3));
        assert!(is_permutation(&[], 0));
        assert!(!is_permutation(&[0, 1], 3), "one missing");
        assert!(!is_permutation(&[0, 0, 1], 3), "one twice");
        assert!(!is_permutation(&[0, 1, 3], 3), "out of range");
    }
}
