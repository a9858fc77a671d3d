//! Under `--shard`: this shard's part of the selection, and which shard owns
//! each test that only an import reveals.
//!
//! Tests the static pass cannot see (generated in loops, inherited from
//! outside the project, parametrized cases that only expand at import) are
//! not in the partition, and every shard that imports their module learns of
//! all of them. Each must still run in exactly one shard, and that shard must
//! import the module. The rule:
//!
//! 1. A test found at import belongs to the static unit it is part of, when
//!    that unit is in the partition: the statically known test `test_x` for a
//!    case `test_x[...]`, else its class (innermost first) when the class is
//!    a unit of its own, else the module's coupled classes when those are one
//!    unit. The shard that owns the unit runs its static tests, so it imports
//!    the module anyway.
//! 2. Otherwise it belongs to the shard that owns its *file*:
//!    `fnv1a64(path) % N + 1`, a pure function of the file's path, the same
//!    on every machine and in every shard mode. That shard imports every
//!    file that may define such tests (see the coordinator's pipeline), even
//!    when it owns none of the file's static tests.
//!
//! Every shard computes the whole partition, so each can tell the owner of
//! any id without talking to the others.

use super::assign::assign;
use super::spec::{ShardMode, ShardSpec};
use super::units::shard_units;
use dbtest_model::{fnv1a64, TestId, TestItem, COUPLED_CLASSES_GROUP};
use std::collections::BTreeMap;

/// One shard's part of the selection.
#[derive(Debug, Clone)]
pub struct ShardedSelection {
    /// The selected items (indices into the item list) this shard runs, in
    /// selection order.
    pub items: Vec<usize>,
    /// Who owns the tests found at import.
    pub owners: ShardOwners,
}

/// The shard of every unit of the whole partition, for deciding who owns a
/// test found at import.
#[derive(Debug, Clone)]
pub struct ShardOwners {
    spec: ShardSpec,
    /// `(fnv1a64(unit key), shard)`, sorted by hash. Hashes keep this at 16
    /// bytes a unit; a collision could only send an import-only test to the
    /// shard of an unrelated unit, identically in every shard.
    units: Vec<(u64, u32)>,
}

/// The shard (1-based) that owns the file `rel` (a path relative to the root
/// directory, `/`-separated) among `total`: what tests found at import that
/// belong to no static unit go by.
pub fn file_shard(rel: &str, total: u32) -> u32 {
    (fnv1a64(rel.as_bytes()) % u64::from(total.max(1))) as u32 + 1
}

impl ShardOwners {
    /// The shard this run is.
    pub fn spec(&self) -> ShardSpec {
        self.spec
    }

    fn unit_shard(&self, rel: &str, name: &str) -> Option<u32> {
        let hash = fnv1a64(format!("{rel}::{name}").as_bytes());
        self.units
            .binary_search_by_key(&hash, |(h, _)| *h)
            .ok()
            .map(|i| self.units[i].1)
    }

    /// The shard (1-based) that runs the test `id`, found at import and not
    /// known statically (see the module documentation for the rule).
    pub fn owner_of_unlisted(&self, id: &str) -> u32 {
        let Some(id) = TestId::parse(id) else {
            return file_shard(id, self.spec.total);
        };
        let rel = id.path();
        // `test_x[a::b]` is a case of `test_x`: parameters may hold anything.
        let base = id.name().base();
        let mut candidate = base;
        loop {
            if let Some(shard) = self.unit_shard(rel, candidate) {
                return shard;
            }
            match candidate.rsplit_once("::") {
                Some((outer, _)) => candidate = outer,
                None => break,
            }
        }
        let in_class = base.contains("::");
        in_class
            .then(|| self.unit_shard(rel, COUPLED_CLASSES_GROUP))
            .flatten()
            .unwrap_or_else(|| file_shard(rel, self.spec.total))
    }

    /// Whether this shard runs the test `id` found at import.
    pub fn owns_unlisted(&self, id: &str) -> bool {
        self.owner_of_unlisted(id) == self.spec.index
    }

    /// Whether this shard owns the file `rel`: it must import it when it may
    /// define tests only an import reveals.
    pub fn owns_file(&self, rel: &str) -> bool {
        file_shard(rel, self.spec.total) == self.spec.index
    }
}

/// Partitions the selected items (indices into `items`, in selection order)
/// into units and shards and keeps shard `spec`'s part. `durations` gives a
/// test's recorded seconds, for duration mode.
pub fn shard_selection(
    items: &[TestItem],
    selected: &[usize],
    spec: ShardSpec,
    mode: ShardMode,
    durations: &dyn Fn(&str) -> Option<f64>,
) -> ShardedSelection {
    let units = shard_units(items, selected, durations);
    let shards = assign(&units.units, spec.total, mode);
    let mut keep: Vec<usize> = shards
        .iter()
        .zip(&units.members)
        .filter(|(shard, _)| **shard == spec.index)
        .flat_map(|(_, members)| members.iter().copied())
        .collect();
    let position: BTreeMap<usize, usize> = selected
        .iter()
        .enumerate()
        .map(|(position, &i)| (i, position))
        .collect();
    keep.sort_by_key(|i| position.get(i).copied().unwrap_or(usize::MAX));
    let mut owned: Vec<(u64, u32)> = units
        .units
        .iter()
        .zip(&shards)
        .map(|(unit, &shard)| (fnv1a64(unit.key.as_bytes()), shard))
        .collect();
    owned.sort_unstable();
    ShardedSelection {
        items: keep,
        owners: ShardOwners { spec, units: owned },
    }
}

#[cfg(test)]
mod tests {
    use super::super::units::tests::item;
    use super::*;
    use dbtest_model::Style;
    use std::collections::HashMap;

    fn example() -> Vec<TestItem> {
        let mut plain = item(
            "a.py::TestPlain::test_p",
            Some("TestPlain"),
            Style::PlainClass,
        );
        plain.class_setup = false;
        let mut coupled = item("c.py::TestC::test_c", Some("TestC"), Style::PlainClass);
        coupled.coupled_classes = true;
        vec![
            item("a.py::test_static", None, Style::Function),
            item(
                "a.py::TestShared::test_1",
                Some("TestShared"),
                Style::TestCase,
            ),
            plain,
            item("b.py::test_other", None, Style::Function),
            coupled,
            item("a.py::test_unselected", None, Style::Function),
        ]
    }

    fn owners_of(total: u32, mode: ShardMode) -> Vec<ShardedSelection> {
        let items = example();
        let selected = [0, 1, 2, 3, 4];
        (1..=total)
            .map(|index| {
                let spec = ShardSpec::new(index, total).unwrap();
                shard_selection(&items, &selected, spec, mode, &|_| None)
            })
            .collect()
    }

    /// The shard whose part holds item `i`.
    fn shard_of_item(shards: &[ShardedSelection], i: usize) -> u32 {
        let found: Vec<u32> = shards
            .iter()
            .filter(|s| s.items.contains(&i))
            .map(|s| s.owners.spec().index)
            .collect();
        assert_eq!(found.len(), 1, "item {i} in {found:?}");
        found[0]
    }

    #[test]
    fn tests_found_at_import_go_with_their_static_unit_or_their_file() {
        for mode in [ShardMode::Duration, ShardMode::Hash, ShardMode::Slice] {
            for total in [1, 2, 3, 5] {
                let shards = owners_of(total, mode);
                let expected = [
                    // A case of a static function goes with the function.
                    ("a.py::test_static[1]", shard_of_item(&shards, 0)),
                    ("a.py::test_static[x::y]", shard_of_item(&shards, 0)),
                    // A method of a class kept whole goes with the class.
                    (
                        "a.py::TestShared::test_inherited",
                        shard_of_item(&shards, 1),
                    ),
                    ("a.py::TestShared::test_1[2]", shard_of_item(&shards, 1)),
                    // A case of a method of a class that is not kept whole.
                    ("a.py::TestPlain::test_p[2]", shard_of_item(&shards, 2)),
                    // Any class test of a module whose classes are coupled.
                    ("c.py::TestOther::test_x", shard_of_item(&shards, 4)),
                    // Nothing static to go with: the file's shard.
                    ("a.py::test_gen_3", file_shard("a.py", total)),
                    ("a.py::TestPlain::test_inherited", file_shard("a.py", total)),
                    ("a.py::test_unselected[1]", file_shard("a.py", total)),
                    ("c.py::test_gen", file_shard("c.py", total)),
                ];
                for (id, owner) in expected {
                    for shard in &shards {
                        // Every shard knows the owner of every id.
                        assert_eq!(
                            shard.owners.owner_of_unlisted(id),
                            owner,
                            "{id} {mode} {total}"
                        );
                        assert_eq!(
                            shard.owners.owns_unlisted(id),
                            shard.owners.spec().index == owner
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_test_found_at_import_and_every_file_has_one_owner() {
        for total in [1, 2, 3, 7] {
            let shards = owners_of(total, ShardMode::Slice);
            for i in 0..200 {
                for id in [
                    format!("a.py::test_gen_{i}"),
                    format!("d{i}.py::test_x"),
                    format!("a.py::TestShared::test_{i}"),
                ] {
                    let owners = shards.iter().filter(|s| s.owners.owns_unlisted(&id));
                    assert_eq!(owners.count(), 1, "{id}");
                }
                let rel = format!("tests/test_{i}.py");
                let owners = shards.iter().filter(|s| s.owners.owns_file(&rel));
                assert_eq!(owners.count(), 1, "{rel}");
            }
        }
    }

    #[test]
    fn file_shards_spread_and_stay_put() {
        // A pure function of the path: pinned, since every shard of a matrix
        // (and every dbtest release they might run) must agree.
        assert_eq!(file_shard("tests/test_gen.py", 3), 3);
        assert_eq!(file_shard("a.py", 1), 1);
        let used: std::collections::BTreeSet<u32> = (0..100)
            .map(|i| file_shard(&format!("tests/test_{i}.py"), 4))
            .collect();
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn shards_cover_the_selection_in_order_and_keep_classes_whole() {
        let items = vec![
            item("a.py::TestX::test_1", Some("TestX"), Style::TestCase),
            item("a.py::test_f", None, Style::Function),
            item("a.py::TestX::test_2", Some("TestX"), Style::TestCase),
            item("b.py::Suite::t", Some("Suite"), Style::Suite),
            item("b.py::test_g", None, Style::Function),
        ];
        let selected = [0, 1, 2, 3, 4];
        let recorded: HashMap<&str, f64> = [("a.py::TestX::test_1", 2.0), ("a.py::test_f", 1.0)]
            .into_iter()
            .collect();
        let durations = |id: &str| recorded.get(id).copied();
        let mut all = Vec::new();
        for index in 1..=3 {
            let spec = ShardSpec::new(index, 3).unwrap();
            let part =
                shard_selection(&items, &selected, spec, ShardMode::Duration, &durations).items;
            assert!(part.windows(2).all(|w| w[0] < w[1]), "selection order kept");
            assert_eq!(part.contains(&0), part.contains(&2));
            all.extend(part);
        }
        all.sort();
        assert_eq!(all, selected);
    }
}
