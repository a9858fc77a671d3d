//! The partition: which shard each unit lands in, by duration, hash or slice.
//!
//! A pure function of the units' keys and durations, so that every shard,
//! computing the whole partition on its own machine, finds the same one: input
//! order never matters (units are sorted by key first), no randomized hasher
//! is involved, and the durations come from a file every shard reads alike.
//! Each unit lands in exactly one shard.

use super::spec::{ShardMode, ShardSpec};
use dbtest_model::{fnv1a64, is_duration, mean_duration};

/// Something that must land on one shard as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardUnit {
    /// Stable identity: the test id, or `path::Class` for a class kept
    /// together. Keys should be unique.
    pub key: String,
    /// Recorded seconds, if known.
    pub duration: Option<f64>,
}

/// The shard (1-based, `1..=total`) of every unit, in input order. A pure
/// function of the units' keys and durations: the order of `units` does not
/// matter. `total` 0 is treated as 1.
pub fn assign(units: &[ShardUnit], total: u32, mode: ShardMode) -> Vec<u32> {
    let total = total.max(1);
    let mut order: Vec<usize> = (0..units.len()).collect();
    // Key first; equal keys (which callers should avoid) are told apart by
    // duration so that even then the result does not follow input order.
    let by_key = |a: &usize, b: &usize| {
        let (a, b) = (&units[*a], &units[*b]);
        a.key.cmp(&b.key).then_with(|| {
            let d = |u: &ShardUnit| u.duration.filter(|d| is_duration(*d)).unwrap_or(-1.0);
            d(a).total_cmp(&d(b))
        })
    };
    order.sort_by(by_key);
    let mut shard = vec![1u32; units.len()];
    match mode {
        ShardMode::Slice => {
            for (position, &unit) in order.iter().enumerate() {
                shard[unit] = (position % total as usize) as u32 + 1;
            }
        }
        ShardMode::Hash => {
            for (unit, slot) in units.iter().zip(shard.iter_mut()) {
                *slot = (fnv1a64(unit.key.as_bytes()) % u64::from(total)) as u32 + 1;
            }
        }
        ShardMode::Duration => {
            let weights = effective_durations(units);
            // Longest first; equal durations in key order (`order` is sorted
            // by key and the sort is stable).
            order.sort_by(|a, b| weights[*b].total_cmp(&weights[*a]));
            // (load, units) per shard. The next unit goes to the least loaded
            // shard; equal loads go to the one with fewer units (so that
            // zero-duration units still spread), then the lowest number.
            let mut loads = vec![(0.0f64, 0usize); total as usize];
            for unit in order {
                let mut best = 0;
                for candidate in 1..loads.len() {
                    let (load, count) = loads[candidate];
                    let (best_load, best_count) = loads[best];
                    if load
                        .total_cmp(&best_load)
                        .then(count.cmp(&best_count))
                        .is_lt()
                    {
                        best = candidate;
                    }
                }
                loads[best].0 += weights[unit];
                loads[best].1 += 1;
                shard[unit] = best as u32 + 1;
            }
        }
    }
    shard
}

/// The durations duration mode packs with: recorded ones where known and
/// usable, the mean of those for the rest ([`mean_duration`], the same bit for
/// bit whatever order the units came in; 1.0 when none is known).
pub fn effective_durations(units: &[ShardUnit]) -> Vec<f64> {
    let fallback = mean_duration(units.iter().filter_map(|u| u.duration)).unwrap_or(1.0);
    units
        .iter()
        .map(|u| u.duration.filter(|d| is_duration(*d)).unwrap_or(fallback))
        .collect()
}

/// Indices (ascending) of the units that belong to shard `spec.index`.
pub fn partition(units: &[ShardUnit], spec: ShardSpec, mode: ShardMode) -> Vec<usize> {
    assign(units, spec.total, mode)
        .into_iter()
        .enumerate()
        .filter(|(_, shard)| *shard == spec.index)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    fn units(n: usize, duration: impl Fn(usize) -> Option<f64>) -> Vec<ShardUnit> {
        (0..n)
            .map(|i| ShardUnit {
                key: format!("tests/test_{:03}.py::test_{}", i % 37, i),
                duration: duration(i),
            })
            .collect()
    }

    /// A deterministic permutation without a random crate.
    fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
        let mut out = items.to_vec();
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        for i in (1..out.len()).rev() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.swap(i, (state >> 33) as usize % (i + 1));
        }
        out
    }

    fn keys_of_shard(units: &[ShardUnit], spec: ShardSpec, mode: ShardMode) -> BTreeSet<String> {
        partition(units, spec, mode)
            .into_iter()
            .map(|i| units[i].key.clone())
            .collect()
    }

    const MODES: [ShardMode; 3] = [ShardMode::Duration, ShardMode::Hash, ShardMode::Slice];

    #[test]
    fn every_unit_in_exactly_one_shard() {
        let all = units(203, |i| (i % 3 != 0).then_some((i % 11) as f64 * 0.3));
        for mode in MODES {
            for total in [1, 2, 3, 7, 250] {
                let mut seen = vec![0; all.len()];
                for index in 1..=total {
                    for i in partition(&all, ShardSpec::new(index, total).unwrap(), mode) {
                        seen[i] += 1;
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "{mode} {total}");
            }
        }
    }

    #[test]
    fn input_order_does_not_matter() {
        let all = units(150, |i| {
            (i % 4 != 0).then(|| ((i * 7919) % 101) as f64 / 10.0)
        });
        for mode in MODES {
            for seed in 0..5 {
                let other = shuffled(&all, seed);
                for index in 1..=4 {
                    let spec = ShardSpec::new(index, 4).unwrap();
                    assert_eq!(
                        keys_of_shard(&all, spec, mode),
                        keys_of_shard(&other, spec, mode),
                        "{mode} seed {seed} shard {spec}"
                    );
                }
            }
        }
    }

    #[test]
    fn duration_shards_are_within_one_longest_unit() {
        for (n, total) in [(10, 3), (100, 4), (57, 8), (5, 7)] {
            let all = units(n, |i| match i % 5 {
                0 => None,
                1 => Some(0.0),
                _ => Some(((i * 31) % 17) as f64 + 0.5),
            });
            let weights = effective_durations(&all);
            let longest = weights.iter().copied().fold(0.0, f64::max);
            let loads: Vec<f64> = (1..=total)
                .map(|index| {
                    partition(
                        &all,
                        ShardSpec::new(index, total).unwrap(),
                        ShardMode::Duration,
                    )
                    .iter()
                    .map(|&i| weights[i])
                    .sum()
                })
                .collect();
            let max = loads.iter().copied().fold(f64::MIN, f64::max);
            let min = loads.iter().copied().fold(f64::MAX, f64::min);
            assert!(max - min <= longest + 1e-9, "{loads:?} longest {longest}");
        }
    }

    #[test]
    fn longest_first_packs_the_textbook_case() {
        // LPT on {7, 6, 5, 4, 3, 2} over 3 shards: {7, 2}, {6, 3}, {5, 4}.
        let all: Vec<ShardUnit> = [7.0, 6.0, 5.0, 4.0, 3.0, 2.0]
            .iter()
            .enumerate()
            .map(|(i, d)| ShardUnit {
                key: format!("t{i}"),
                duration: Some(*d),
            })
            .collect();
        let shards = assign(&all, 3, ShardMode::Duration);
        assert_eq!(shards, [1, 2, 3, 3, 2, 1]);
    }

    #[test]
    fn unknown_durations_count_as_the_mean() {
        let all = vec![
            ShardUnit {
                key: "a".into(),
                duration: Some(1.0),
            },
            ShardUnit {
                key: "b".into(),
                duration: Some(3.0),
            },
            ShardUnit {
                key: "c".into(),
                duration: None,
            },
        ];
        assert_eq!(effective_durations(&all), [1.0, 3.0, 2.0]);
        let none = units(3, |_| None);
        assert_eq!(effective_durations(&none), [1.0, 1.0, 1.0]);
    }

    #[test]
    fn zero_durations_still_spread() {
        let all = units(8, |_| Some(0.0));
        for index in 1..=4 {
            let spec = ShardSpec::new(index, 4).unwrap();
            assert_eq!(partition(&all, spec, ShardMode::Duration).len(), 2);
        }
    }

    #[test]
    fn hash_shards_do_not_move_when_a_test_is_added() {
        let all = units(120, |_| None);
        let before = assign(&all, 5, ShardMode::Hash);
        let mut more = all.clone();
        more.insert(
            17,
            ShardUnit {
                key: "tests/test_new.py::test_added".into(),
                duration: Some(3.0),
            },
        );
        let after = assign(&more, 5, ShardMode::Hash);
        let by_key: HashMap<&str, u32> = more
            .iter()
            .zip(&after)
            .map(|(u, s)| (u.key.as_str(), *s))
            .collect();
        for (unit, shard) in all.iter().zip(&before) {
            assert_eq!(by_key[unit.key.as_str()], *shard, "{}", unit.key);
        }
    }

    #[test]
    fn hash_is_the_published_fnv1a() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn slice_deals_sorted_keys_round_robin() {
        let all: Vec<ShardUnit> = ["d", "b", "a", "c", "e"]
            .iter()
            .map(|k| ShardUnit {
                key: k.to_string(),
                duration: None,
            })
            .collect();
        assert_eq!(assign(&all, 2, ShardMode::Slice), [2, 2, 1, 1, 1]);
        assert_eq!(
            keys_of_shard(&all, ShardSpec::new(1, 2).unwrap(), ShardMode::Slice),
            ["a", "c", "e"].iter().map(|s| s.to_string()).collect()
        );
    }

    #[test]
    fn more_shards_than_units_leaves_some_empty() {
        let all = units(2, |_| Some(1.0));
        let sizes: Vec<usize> = (1..=4)
            .map(|i| partition(&all, ShardSpec::new(i, 4).unwrap(), ShardMode::Duration).len())
            .collect();
        assert_eq!(sizes, [1, 1, 0, 0]);
    }
}
