use super::layout::quantize;
use super::*;

fn entry(module: usize, group: Option<&str>, estimate: f64) -> TestEntry {
    TestEntry {
        name: "".into(),
        module,
        group: group.map(Box::from),
        timeout: None,
        estimate,
    }
}

fn flags(modules: usize) -> Vec<ModuleFlags> {
    vec![ModuleFlags::default(); modules]
}

fn cold(table: &[TestEntry], modules: usize, lanes: usize) -> Scheduler {
    Scheduler::new(table, &flags(modules), lanes, false, Order::default(), 0.01)
}

fn warm(table: &[TestEntry], modules: usize, lanes: usize) -> Scheduler {
    let order = Order {
        longest_functions_first: lanes > 1,
        shuffle: None,
    };
    Scheduler::new(table, &flags(modules), lanes, true, order, 0.01)
}

/// Every batch each lane's worker gets, workers taking turns, none stealing.
fn drain_lanes(s: &mut Scheduler, lanes: usize) -> Vec<Vec<usize>> {
    let mut got = vec![Vec::new(); lanes];
    loop {
        let mut any = false;
        for (lane, tests) in got.iter_mut().enumerate() {
            if let Some(batch) = s.next_batch(lane, usize::MAX, None) {
                tests.extend(batch.tests);
                any = true;
            }
        }
        if !any {
            return got;
        }
    }
}

#[test]
fn without_durations_two_tests_go_to_two_workers_however_they_are_grouped() {
    let one_module = vec![entry(0, None, 0.01), entry(0, None, 0.01)];
    let two_modules = vec![entry(0, None, 0.01), entry(1, None, 0.01)];
    for (table, modules) in [(one_module, 1), (two_modules, 2)] {
        let mut s = cold(&table, modules, 2);
        assert_eq!(drain_lanes(&mut s, 2), [vec![0], vec![1]]);
    }
    let three_modules: Vec<TestEntry> = (0..3).map(|m| entry(m, None, 0.01)).collect();
    let mut s = cold(&three_modules, 3, 3);
    assert_eq!(drain_lanes(&mut s, 3), [vec![0], vec![1], vec![2]]);
}

#[test]
fn the_same_inputs_give_the_same_lanes_and_each_is_a_stretch_in_file_order() {
    let table: Vec<TestEntry> = (0..60)
        .map(|i| entry(i / 7, None, 0.001 * (1 + i % 5) as f64))
        .collect();
    let a = warm(&table, 9, 3).lanes();
    let b = warm(&table, 9, 3).lanes();
    assert_eq!(a, b);
    let all: Vec<usize> = a.concat();
    assert_eq!(all.len(), 60);
    // Module-level functions go longest first within a module; modules in order.
    let modules: Vec<usize> = all.iter().map(|&t| table[t].module).collect();
    assert!(modules.windows(2).all(|w| w[0] <= w[1]), "{modules:?}");
}

#[test]
fn the_methods_of_a_plain_class_keep_the_files_order_whatever_their_durations() {
    // packaging's TestManylinuxPlatform: methods of a class without class-level
    // set-up (no group), one of which fails when an earlier one has not run.
    let named = |name: &str, estimate: f64| TestEntry {
        name: name.into(),
        ..entry(0, None, estimate)
    };
    let table = vec![
        named("test_free_short", 0.001),
        named("test_free_long", 0.5),
        named("TestPlain::test_a", 0.001),
        named("TestPlain::test_b", 0.3),
        named("TestPlain::test_c", 0.2),
    ];
    let all: Vec<usize> = warm(&table, 1, 2).lanes().concat();
    let methods: Vec<usize> = all.iter().copied().filter(|&t| t >= 2).collect();
    assert_eq!(methods, [2, 3, 4], "{all:?}");
    let functions: Vec<usize> = all.iter().copied().filter(|&t| t < 2).collect();
    assert_eq!(
        functions,
        [1, 0],
        "module-level functions still go longest first"
    );
}

#[test]
fn slightly_changed_durations_do_not_change_the_plan() {
    // Durations near the middle of their quantization step, then each off by
    // up to ±8% as a rerun would time them.
    let base: Vec<f64> = (0..200)
        .map(|i| quantize(0.002 * (1 + (i * 7919) % 13) as f64))
        .collect();
    let table = |jitter: f64| -> Vec<TestEntry> {
        base.iter()
            .enumerate()
            .map(|(i, &d)| {
                let wobble = if i % 2 == 0 {
                    1.0 + jitter
                } else {
                    1.0 - jitter
                };
                entry(i / 10, None, quantize(d * wobble))
            })
            .collect()
    };
    let reference = warm(&table(0.0), 20, 4).lanes();
    for jitter in [0.03, 0.08, -0.05] {
        assert_eq!(
            warm(&table(jitter), 20, 4).lanes(),
            reference,
            "jitter {jitter}"
        );
    }
}

#[test]
fn quantized_estimates_lie_on_a_grid_with_a_floor() {
    assert_eq!(quantize(0.0), quantize(1e-9));
    assert_eq!(quantize(f64::NAN), quantize(0.0));
    assert_eq!(quantize(0.30), quantize(0.31));
    assert!(quantize(0.30) < quantize(0.45));
    let q = quantize(1.0);
    assert!((q - 1.0).abs() / 1.0 < 0.2, "{q}");
}

#[test]
fn a_changed_duration_moves_a_cut_but_never_reorders_the_suite() {
    let mut table: Vec<TestEntry> = (0..40).map(|i| entry(i / 4, Some("C"), 0.01)).collect();
    let before = warm(&table, 10, 2).lanes();
    table[3].estimate = 0.2;
    let after = warm(&table, 10, 2).lanes();
    assert_ne!(before, after);
    assert_eq!(
        before.concat(),
        after.concat(),
        "the same sequence, cut elsewhere"
    );
}

#[test]
fn cuts_fall_between_modules_when_that_costs_little() {
    // Modules of 45, 2 and 45 equal tests on two lanes: the ideal cut is in
    // the middle module, one test from its edge.
    let sizes = [45, 2, 45];
    let table: Vec<TestEntry> = (0..3)
        .flat_map(|m| (0..sizes[m]).map(move |_| entry(m, None, 0.01)))
        .collect();
    let lanes = cold(&table, 3, 2).lanes();
    assert!(
        lanes[0].len() == 45 || lanes[0].len() == 47,
        "cut between modules: {lanes:?}"
    );
    // One module: cut in the middle.
    let table: Vec<TestEntry> = (0..10).map(|_| entry(0, None, 0.01)).collect();
    assert_eq!(cold(&table, 1, 2).lanes()[0].len(), 5);
}

#[test]
fn long_tests_at_the_end_of_a_file_are_spread_by_the_plan() {
    let mut table: Vec<TestEntry> = (0..200).map(|_| entry(0, None, 0.005)).collect();
    table.extend((0..4).map(|_| entry(0, None, 1.5)));
    let s = warm(&table, 1, 2);
    let lanes = s.lanes();
    let work = |lane: &Vec<usize>| lane.iter().map(|&t| table[t].estimate).sum::<f64>();
    let (a, b) = (work(&lanes[0]), work(&lanes[1]));
    assert!((a - b).abs() < 0.05, "{a} vs {b}: {lanes:?}");
    assert!(lanes
        .iter()
        .all(|l| l.iter().filter(|&&t| t >= 200).count() == 2));
}

#[test]
fn an_idle_worker_steals_the_back_half_of_the_busiest_lane_without_durations() {
    let table: Vec<TestEntry> = (0..8).map(|_| entry(0, None, 0.01)).collect();
    let mut s = cold(&table, 1, 2);
    // Lane 0 is done; lane 1 has tests 4..8 left.
    while s.next_batch(0, usize::MAX, None).is_some() {}
    assert!(
        s.next_batch(0, usize::MAX, None).is_none(),
        "not idle: no theft"
    );
    let stolen = s.next_batch(0, usize::MAX, Some(&[])).expect("steals");
    assert_eq!(
        stolen.tests,
        [6],
        "the back half, in order, a batch at a time"
    );
    let rest = drain_lanes(&mut s, 2);
    assert_eq!(rest, [vec![7], vec![4, 5]]);
}

#[test]
fn with_durations_only_a_lane_well_behind_is_stolen_from() {
    let table: Vec<TestEntry> = (0..20).map(|_| entry(0, None, 0.5)).collect();
    let mut s = warm(&table, 1, 2);
    while s.next_batch(0, usize::MAX, None).is_some() {}
    // Lane 1 has all its 5 s left, far beyond a tenth of a share.
    assert!(s.next_batch(0, usize::MAX, Some(&[])).is_some());
    let mut s = warm(&table, 1, 2);
    while s.next_batch(0, usize::MAX, None).is_some() {}
    while s.remaining_tests() > 1 {
        s.next_batch(1, 1, None);
    }
    // 0.5 s left of a 5 s share: not worth moving tests for.
    assert!(s.next_batch(0, usize::MAX, Some(&[])).is_none());
    // Nor a short run's lane, however far behind in proportion.
    let short: Vec<TestEntry> = (0..20).map(|_| entry(0, None, 0.01)).collect();
    let mut s = warm(&short, 1, 2);
    while s.next_batch(0, usize::MAX, None).is_some() {}
    assert!(s.next_batch(0, usize::MAX, Some(&[])).is_none());
}

#[test]
fn batches_without_durations_start_at_one_test_and_grow_with_what_the_run_sees() {
    let table: Vec<TestEntry> = (0..3000).map(|_| entry(0, None, 0.01)).collect();
    let mut s = cold(&table, 1, 1);
    assert_eq!(s.next_batch(0, usize::MAX, None).unwrap().tests.len(), 1);
    s.observe(0.001);
    assert_eq!(
        s.next_batch(0, usize::MAX, None).unwrap().tests.len(),
        2,
        "2 ms at 1 ms each"
    );
    for _ in 0..100 {
        s.observe(0.000_001);
    }
    assert!(s.next_batch(0, usize::MAX, None).unwrap().tests.len() > 100);
}

#[test]
fn recorded_batches_shrink_towards_the_end() {
    let table: Vec<TestEntry> = (0..120).map(|_| entry(0, None, 0.01)).collect();
    let mut s = warm(&table, 1, 1);
    let mut sizes = Vec::new();
    while let Some(batch) = s.next_batch(0, usize::MAX, None) {
        sizes.push(batch.tests.len());
    }
    assert!(sizes[0] > 10, "{sizes:?}");
    assert_eq!(*sizes.last().unwrap(), 1, "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 120);
}

#[test]
fn classes_stay_together_and_every_test_is_handed_out_once() {
    let table = vec![
        entry(0, Some("A"), 1.0),
        entry(0, Some("A"), 1.0),
        entry(0, None, 1.0),
        entry(1, None, 1.0),
    ];
    let mut s = cold(&table, 2, 4);
    let mut seen = Vec::new();
    for lane in 0..4 {
        while let Some(batch) = s.next_batch(lane, usize::MAX, Some(&[])) {
            if batch.tests.contains(&0) {
                assert!(batch.tests.contains(&1), "class split: {batch:?}");
            }
            seen.extend(batch.tests);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3]);
    assert!(s.is_empty());
}

#[test]
fn a_reordered_module_hands_out_its_tests_in_the_new_order() {
    let table = vec![
        entry(0, None, 1.0),
        entry(0, Some("A"), 1.0),
        entry(0, None, 1.0),
        entry(0, Some("A"), 1.0),
    ];
    let mut s = cold(&table, 1, 1);
    let rank = [3, 0, 2, 1];
    s.reorder_module(0, &table, |t| rank[t]);
    let order = drain_lanes(&mut s, 1).concat();
    assert_eq!(
        order,
        [1, 3, 2, 0],
        "the class's tests, now adjacent, form one unit"
    );
    assert!(s.is_empty());
}

#[test]
fn modules_marked_first_are_planned_first() {
    let table = vec![entry(0, None, 5.0), entry(1, None, 1.0)];
    let modules = [
        ModuleFlags::default(),
        ModuleFlags {
            run_unlisted: false,
            first: true,
            whole: false,
        },
    ];
    let mut s = Scheduler::new(&table, &modules, 1, true, Order::default(), 0.01);
    assert_eq!(s.next_batch(0, usize::MAX, None).unwrap().module, 1);
}

#[test]
fn probe_modules_are_handed_out_once_and_requeue_restores_work() {
    let table = vec![entry(1, None, 1.0), entry(1, None, 1.0)];
    let modules = [
        ModuleFlags {
            run_unlisted: true,
            first: false,
            whole: false,
        },
        ModuleFlags::default(),
    ];
    let mut s = Scheduler::new(&table, &modules, 1, false, Order::default(), 0.01);
    let mut batches = Vec::new();
    while let Some(b) = s.next_batch(0, usize::MAX, Some(&[])) {
        batches.push(b);
    }
    let probe: Vec<_> = batches.iter().filter(|b| b.run_unlisted).collect();
    assert_eq!(probe.len(), 1);
    assert!(probe[0].tests.is_empty());
    s.requeue(0, &[1], &table);
    assert_eq!(s.next_batch(0, usize::MAX, None).unwrap().tests, [1]);
    assert!(s.is_empty());
}

#[test]
fn a_shuffle_is_a_permutation_named_by_its_seed_that_keeps_classes_whole() {
    let table: Vec<TestEntry> = (0..30)
        .map(|i| entry(i / 10, (i % 10 < 3).then_some("K"), 0.01))
        .collect();
    let shuffled = |seed: u64| {
        let order = Order {
            longest_functions_first: false,
            shuffle: Some(seed),
        };
        Scheduler::new(&table, &flags(3), 1, false, order, 0.01).lanes()[0].clone()
    };
    let (a, b, c) = (shuffled(7), shuffled(7), shuffled(8));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, (0..30).collect::<Vec<_>>());
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..30).collect::<Vec<_>>());
    for module in 0..3 {
        let at: Vec<usize> = (0..30)
            .filter(|&p| table[a[p]].module == module && table[a[p]].group.is_some())
            .collect();
        assert!(
            at.windows(2).all(|w| w[1] == w[0] + 1),
            "class split: {a:?}"
        );
    }
}

#[test]
fn a_module_with_module_set_up_stays_on_one_worker_even_when_reordered() {
    let table: Vec<TestEntry> = (0..10).map(|i| entry(i / 8, None, 0.01)).collect();
    let mut modules = flags(2);
    modules[0].whole = true;
    let mut s = Scheduler::new(&table, &modules, 2, false, Order::default(), 0.01);
    let lanes = s.lanes();
    assert_eq!(lanes[0], (0..8).collect::<Vec<_>>(), "{lanes:?}");
    s.reorder_module(0, &table, |t| 10 - t);
    let first = s.next_batch(0, 2, None).unwrap();
    assert_eq!(
        first.tests,
        [7, 6, 5, 4, 3, 2, 1, 0],
        "one batch, whatever the limit"
    );
    // Lane 1 keeps its own tests: module 0 was never in it.
    assert!(s.lanes()[1].iter().all(|&t| t >= 8));
}

#[test]
fn a_thief_counts_what_its_victim_was_sent_and_has_not_run() {
    // Lane 1 is down to two tests, with two more sent to its worker and not
    // yet run: the thief takes both (half of the four), not one — also when
    // the lane's estimate drifted as it was handed out one test at a time.
    let unit = quantize(0.01);
    let table: Vec<TestEntry> = (0..204).map(|_| entry(0, None, unit)).collect();
    let mut s = cold(&table, 1, 2);
    while s.next_batch(0, usize::MAX, None).is_some() {}
    for _ in 0..100 {
        s.next_batch(1, 1, None);
    }
    let stolen = s
        .next_batch(0, usize::MAX, Some(&[0.0, unit + unit]))
        .unwrap();
    assert_eq!(stolen.tests, [202]);
    assert_eq!(s.next_batch(0, usize::MAX, None).unwrap().tests, [203]);
    assert!(s.next_batch(1, usize::MAX, None).is_none());
}

#[test]
fn cutting_into_lanes_keeps_every_unit_once_in_order() {
    let table: Vec<TestEntry> = (0..7).map(|i| entry(i / 3, None, 1.0)).collect();
    for lanes in 1..=9 {
        let planned = cold(&table, 3, lanes).lanes();
        let flat: Vec<usize> = planned.iter().flatten().copied().collect();
        assert_eq!(
            flat,
            (0..7).collect::<Vec<_>>(),
            "{lanes} lanes: {planned:?}"
        );
        assert_eq!(planned.len(), lanes);
        if lanes <= 7 {
            assert!(planned.iter().all(|lane| !lane.is_empty()), "{planned:?}");
        }
    }
}

#[test]
fn tests_found_at_import_go_into_the_lane_and_an_idle_worker_takes_half() {
    // Module 0 is a probe (no static tests): its import shows 8 tests of two
    // classes (a unit each).
    let mut table = Vec::new();
    let mut modules = flags(1);
    modules[0].run_unlisted = true;
    let mut s = Scheduler::new(&table, &modules, 2, false, Order::default(), 0.01);
    let (importer, probe) = (0..2)
        .find_map(|lane| s.next_batch(lane, usize::MAX, None).map(|b| (lane, b)))
        .unwrap();
    assert!(probe.tests.is_empty() && probe.run_unlisted && probe.module == 0);
    for class in ["A", "A", "A", "A", "B", "B", "B", "B"] {
        table.push(entry(0, Some(class), 0.01));
    }
    let found: Vec<usize> = (0..8).collect();
    s.add_found(importer, &found, &table);
    assert_eq!(s.remaining_tests(), 8);
    assert_eq!(s.lanes()[importer], found);
    // The idle worker takes the back half, class B whole.
    let idle = 1 - importer;
    let stolen = s.next_batch(idle, usize::MAX, Some(&[0.0, 0.0])).unwrap();
    assert_eq!(stolen.module, 0);
    assert_eq!(stolen.tests, [4, 5, 6, 7]);
    assert!(
        !stolen.run_unlisted,
        "the module's import is asked for once"
    );
    assert_eq!(s.lanes()[importer], [0, 1, 2, 3]);
}

#[test]
fn found_tests_go_after_the_modules_last_unit_in_the_lane() {
    let mut table = vec![
        entry(0, None, 0.01),
        entry(0, None, 0.01),
        entry(1, None, 0.01),
    ];
    let mut s = cold(&table, 2, 1);
    table.push(entry(0, None, 0.01));
    s.add_found(0, &[3], &table);
    assert_eq!(s.lanes(), [vec![0, 1, 3, 2]]);
    s.add_found(0, &[], &table);
    assert_eq!(s.remaining_tests(), 4);
}
