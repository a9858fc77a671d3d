//! Sharding: splitting the selected tests over the N jobs of a CI matrix.
//!
//! Every shard computes the whole partition on its own and keeps its part, so
//! the partition must come out identical on every machine: it is a pure
//! function of the units' keys and durations. Input order never matters
//! (units are sorted by key first), no randomized hasher is involved, and the
//! durations come from a file every shard reads alike. Each unit lands in
//! exactly one shard, so the union of the shards is the whole selection.
//!
//! A *unit* is what must stay on one shard: a single test, or a whole
//! `TestCase`/`TestSuite`/`Test*` class so that its class-level set-up runs
//! once (see [`shard_units`]).

pub use dbtest_model::fnv1a64;
use dbtest_model::TestItem;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Why a shard specification, a shard mode or the CI environment is unusable.
/// Every message is one line, fit for `dbtest: error: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("invalid shard \"{0}\": expected K/N with whole numbers, e.g. --shard 2/4")]
    Syntax(String),
    #[error("invalid shard {index}/{total}: the total number of shards must be at least 1")]
    ZeroTotal { index: u32, total: u32 },
    #[error("invalid shard {index}/{total}: shards are numbered from 1 (use 1/{total} to {total}/{total})")]
    ZeroIndex { index: u32, total: u32 },
    #[error("invalid shard {index}/{total}: there are only {total} shards (use 1/{total} to {total}/{total})")]
    IndexTooLarge { index: u32, total: u32 },
    #[error("unknown shard mode \"{0}\": expected duration, hash or slice")]
    Mode(String),
    #[error("{provider} sharding: {set} is set but {unset} is not")]
    HalfPair {
        provider: &'static str,
        set: &'static str,
        unset: &'static str,
    },
    #[error("{provider} sharding: {var}={value:?} is not a whole number")]
    NotANumber {
        provider: &'static str,
        var: &'static str,
        value: String,
    },
    #[error("{provider} sharding: {index_var}={index} does not fit {total_var}={total} ({first} to {last} expected)")]
    OutOfRange {
        provider: &'static str,
        index_var: &'static str,
        index: u64,
        total_var: &'static str,
        total: u64,
        first: u64,
        last: u64,
    },
}

/// Shard `index` (1-based) of `total`: `--shard 2/4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardSpec {
    pub index: u32,
    pub total: u32,
}

impl ShardSpec {
    /// A checked spec: `1 <= index <= total`.
    pub fn new(index: u32, total: u32) -> Result<ShardSpec, ShardError> {
        if total == 0 {
            Err(ShardError::ZeroTotal { index, total })
        } else if index == 0 {
            Err(ShardError::ZeroIndex { index, total })
        } else if index > total {
            Err(ShardError::IndexTooLarge { index, total })
        } else {
            Ok(ShardSpec { index, total })
        }
    }
}

impl ShardSpec {
    /// Whether this shard owns a test the static pass could not see (found
    /// by a worker at import: generated, inherited, parametrized). Such tests
    /// are not in the partition, and every shard that imports their module
    /// learns of them, so each is given to exactly one shard by a hash of its
    /// id alone, which needs no knowledge of the other shards.
    pub fn owns_unlisted(&self, id: &str) -> bool {
        fnv1a64(id.as_bytes()) % u64::from(self.total.max(1)) + 1 == u64::from(self.index)
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl FromStr for ShardSpec {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<ShardSpec, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (index, total) = text.trim().split_once('/').ok_or_else(syntax)?;
        // `u32::from_str` accepts a leading `+`; a shard spec has digits only.
        let number = |part: &str| {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            part.parse::<u32>().map_err(|_| syntax())
        };
        ShardSpec::new(number(index)?, number(total)?)
    }
}

/// What `--shard` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardRequest {
    /// `--shard K/N`.
    Explicit(ShardSpec),
    /// `--shard auto`: read the index and total from the CI environment.
    Auto,
}

impl FromStr for ShardRequest {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<ShardRequest, ShardError> {
        if text.trim().eq_ignore_ascii_case("auto") {
            Ok(ShardRequest::Auto)
        } else {
            text.parse().map(ShardRequest::Explicit)
        }
    }
}

impl ShardRequest {
    /// The shard this run is, or `None` to run everything (`auto` outside a
    /// sharded CI job). `env` looks a variable up; pass
    /// `&|name| std::env::var(name).ok()` for the process environment.
    pub fn resolve(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<ShardSpec>, ShardError> {
        match self {
            ShardRequest::Explicit(spec) => Ok(Some(*spec)),
            ShardRequest::Auto => detect_ci_shard(env),
        }
    }
}

/// One CI system's pair of variables.
struct Provider {
    name: &'static str,
    index: &'static str,
    total: &'static str,
    /// The first shard's index: 0 or 1.
    first: u64,
}

/// In order of precedence. Bazel comes first because a `bazel test` run is
/// the innermost harness: if it shards, its numbers are the ones that apply
/// even when the surrounding CI job is itself parallel.
const PROVIDERS: [Provider; 4] = [
    Provider {
        name: "Bazel",
        index: "TEST_SHARD_INDEX",
        total: "TEST_TOTAL_SHARDS",
        first: 0,
    },
    Provider {
        name: "GitLab",
        index: "CI_NODE_INDEX",
        total: "CI_NODE_TOTAL",
        first: 1,
    },
    Provider {
        name: "CircleCI",
        index: "CIRCLE_NODE_INDEX",
        total: "CIRCLE_NODE_TOTAL",
        first: 0,
    },
    Provider {
        name: "Buildkite",
        index: "BUILDKITE_PARALLEL_JOB",
        total: "BUILDKITE_PARALLEL_JOB_COUNT",
        first: 0,
    },
];

/// Reads the shard from the CI environment (`--shard auto`): GitLab
/// `CI_NODE_INDEX`/`CI_NODE_TOTAL` (1-based), CircleCI
/// `CIRCLE_NODE_INDEX`/`CIRCLE_NODE_TOTAL`, Buildkite
/// `BUILDKITE_PARALLEL_JOB`/`BUILDKITE_PARALLEL_JOB_COUNT` and Bazel
/// `TEST_SHARD_INDEX`/`TEST_TOTAL_SHARDS` (0-based).
///
/// `Ok(None)` when no provider's variables are set: the job is not sharded
/// and runs everything. Half a pair is an error rather than a guess, since
/// guessing would silently run the wrong tests; the one exception is a lone
/// total of 1, which GitLab sets on every job that does not use `parallel:`.
/// Empty values count as unset.
pub fn detect_ci_shard(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ShardSpec>, ShardError> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    for provider in &PROVIDERS {
        let number = |var: &'static str, value: String| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| ShardError::NotANumber {
                    provider: provider.name,
                    var,
                    value,
                })
        };
        match (get(provider.index), get(provider.total)) {
            (None, None) => continue,
            (None, Some(total)) if total.trim() == "1" => continue,
            (Some(_), None) => {
                return Err(ShardError::HalfPair {
                    provider: provider.name,
                    set: provider.index,
                    unset: provider.total,
                })
            }
            (None, Some(_)) => {
                return Err(ShardError::HalfPair {
                    provider: provider.name,
                    set: provider.total,
                    unset: provider.index,
                })
            }
            (Some(index), Some(total)) => {
                let index = number(provider.index, index)?;
                let total = number(provider.total, total)?;
                let last = (total + provider.first).saturating_sub(1);
                let out_of_range = || ShardError::OutOfRange {
                    provider: provider.name,
                    index_var: provider.index,
                    index,
                    total_var: provider.total,
                    total,
                    first: provider.first,
                    last,
                };
                if total == 0 || index < provider.first || index > last {
                    return Err(out_of_range());
                }
                let total32 = u32::try_from(total).map_err(|_| out_of_range())?;
                let index32 =
                    u32::try_from(index - provider.first + 1).map_err(|_| out_of_range())?;
                return ShardSpec::new(index32, total32).map(Some);
            }
        }
    }
    Ok(None)
}

/// What a run under `bazel test` owes Bazel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BazelTestEnv {
    /// `TEST_SHARD_STATUS_FILE`: touch it to tell Bazel the runner honours
    /// sharding (otherwise Bazel assumes every shard ran everything).
    pub shard_status_file: Option<PathBuf>,
    /// `XML_OUTPUT_FILE`: where Bazel expects the JUnit XML report.
    pub xml_output_file: Option<PathBuf>,
}

impl BazelTestEnv {
    /// Creates the shard status file if Bazel asked for one (keeping it if it
    /// exists: "touch").
    pub fn touch_shard_status_file(&self) -> std::io::Result<()> {
        if let Some(path) = &self.shard_status_file {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
        }
        Ok(())
    }
}

/// `Some` when running under `bazel test` (any of `TEST_SHARD_STATUS_FILE`,
/// `XML_OUTPUT_FILE`, `TEST_TOTAL_SHARDS` is set), telling the caller which
/// files Bazel expects.
pub fn bazel_test_env(env: &dyn Fn(&str) -> Option<String>) -> Option<BazelTestEnv> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let bazel = BazelTestEnv {
        shard_status_file: get("TEST_SHARD_STATUS_FILE").map(PathBuf::from),
        xml_output_file: get("XML_OUTPUT_FILE").map(PathBuf::from),
    };
    (bazel.shard_status_file.is_some()
        || bazel.xml_output_file.is_some()
        || get("TEST_TOTAL_SHARDS").is_some())
    .then_some(bazel)
}

/// How units are spread over shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ShardMode {
    /// Longest-first greedy bin packing on recorded durations: shards of
    /// equal wall time. The default when a durations file exists.
    #[default]
    Duration,
    /// A fixed hash of the key: adding or removing tests never moves others.
    Hash,
    /// Sorted keys dealt round-robin: equal counts.
    Slice,
}

impl ShardMode {
    /// The spec's default: `duration` when there are recorded durations,
    /// otherwise `slice` (which is what duration mode with no durations
    /// amounts to, said plainly).
    pub fn default_for(has_durations: bool) -> ShardMode {
        if has_durations {
            ShardMode::Duration
        } else {
            ShardMode::Slice
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShardMode::Duration => "duration",
            ShardMode::Hash => "hash",
            ShardMode::Slice => "slice",
        }
    }
}

impl fmt::Display for ShardMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ShardMode {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<ShardMode, ShardError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "duration" | "durations" => Ok(ShardMode::Duration),
            "hash" => Ok(ShardMode::Hash),
            "slice" => Ok(ShardMode::Slice),
            _ => Err(ShardError::Mode(text.to_string())),
        }
    }
}

/// Something that must land on one shard as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardUnit {
    /// Stable identity: the test id, or `path::Class` for a class kept
    /// together. Keys should be unique.
    pub key: String,
    /// Recorded seconds, if known.
    pub duration: Option<f64>,
}

fn usable(seconds: f64) -> bool {
    seconds.is_finite() && seconds >= 0.0
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
            let d = |u: &ShardUnit| u.duration.filter(|d| usable(*d)).unwrap_or(-1.0);
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
/// usable, the mean of those for the rest (1.0 when none is known).
///
/// The mean is summed in key order so that it is bit-for-bit the same
/// whatever order the units came in.
pub fn effective_durations(units: &[ShardUnit]) -> Vec<f64> {
    let mut known: Vec<(&str, f64)> = units
        .iter()
        .filter_map(|u| {
            u.duration
                .filter(|d| usable(*d))
                .map(|d| (u.key.as_str(), d))
        })
        .collect();
    known.sort_by(|a, b| a.0.cmp(b.0).then(a.1.total_cmp(&b.1)));
    let fallback = if known.is_empty() {
        1.0
    } else {
        known.iter().map(|(_, d)| d).sum::<f64>() / known.len() as f64
    };
    units
        .iter()
        .map(|u| u.duration.filter(|d| usable(*d)).unwrap_or(fallback))
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

/// Selected tests gathered into shard units.
#[derive(Debug, Clone, Default)]
pub struct ShardUnits {
    pub units: Vec<ShardUnit>,
    /// Per unit, the indices (into the item list) of its tests, in selection order.
    pub members: Vec<Vec<usize>>,
}

/// Gathers the selected items into units: a test of a class whose tests run
/// together (a `TestCase`, `TestSuite` or plain `Test*` class, as the runner
/// groups them) joins its class's unit, keyed `path::Class`; any other test
/// is a unit of its own, keyed by its id.
///
/// A unit's duration is the sum of its tests' recorded durations; tests with
/// none count as the mean recorded test duration; a unit with no recorded
/// test at all has no duration (duration mode then fills in the mean unit).
pub fn shard_units(
    items: &[TestItem],
    selected: &[usize],
    durations: &dyn Fn(&str) -> Option<f64>,
) -> ShardUnits {
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut units = ShardUnits::default();
    let mut recorded: Vec<Option<f64>> = Vec::with_capacity(selected.len());
    for &i in selected {
        let item = &items[i];
        let key = match item.shared_class() {
            Some(class) => {
                let rel = item.id.split_once("::").map_or(&*item.id, |p| p.0);
                format!("{rel}::{class}")
            }
            None => item.id.to_string(),
        };
        let unit = *by_key.entry(key.clone()).or_insert_with(|| {
            units.units.push(ShardUnit {
                key,
                duration: None,
            });
            units.members.push(Vec::new());
            units.units.len() - 1
        });
        units.members[unit].push(i);
        recorded.push(durations(&item.id).filter(|d| usable(*d)));
    }
    // Mean over tests, summed in id order for the same reason as above.
    let mut known: Vec<(&str, f64)> = selected
        .iter()
        .zip(&recorded)
        .filter_map(|(&i, d)| d.map(|d| (&*items[i].id, d)))
        .collect();
    known.sort_by(|a, b| a.0.cmp(b.0).then(a.1.total_cmp(&b.1)));
    let mean =
        (!known.is_empty()).then(|| known.iter().map(|(_, d)| d).sum::<f64>() / known.len() as f64);
    let recorded: BTreeMap<usize, Option<f64>> = selected.iter().copied().zip(recorded).collect();
    for (unit, members) in units.units.iter_mut().zip(&units.members) {
        let any_known = members.iter().any(|i| recorded[i].is_some());
        if let (true, Some(mean)) = (any_known, mean) {
            // Sum in id order too.
            let mut parts: Vec<(&str, f64)> = members
                .iter()
                .map(|i| (&*items[*i].id, recorded[i].unwrap_or(mean)))
                .collect();
            parts.sort_by(|a, b| a.0.cmp(b.0).then(a.1.total_cmp(&b.1)));
            unit.duration = Some(parts.iter().map(|(_, d)| d).sum());
        }
    }
    units
}

/// The selected items that belong to shard `spec`, in selection order: what
/// the coordinator runs under `--shard`.
pub fn shard_items(
    items: &[TestItem],
    selected: &[usize],
    spec: ShardSpec,
    mode: ShardMode,
    durations: &dyn Fn(&str) -> Option<f64>,
) -> Vec<usize> {
    let units = shard_units(items, selected, durations);
    let mut keep: Vec<usize> = partition(&units.units, spec, mode)
        .into_iter()
        .flat_map(|unit| units.members[unit].iter().copied())
        .collect();
    let position: BTreeMap<usize, usize> = selected
        .iter()
        .enumerate()
        .map(|(position, &i)| (i, position))
        .collect();
    keep.sort_by_key(|i| position.get(i).copied().unwrap_or(usize::MAX));
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbtest_model::Style;
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
    fn each_unlisted_test_is_owned_by_one_shard() {
        for i in 0..200 {
            let id = format!("tests/test_gen.py::test_case[{i}]");
            let owners = (1..=3)
                .filter(|&index| ShardSpec::new(index, 3).unwrap().owns_unlisted(&id))
                .count();
            assert_eq!(owners, 1, "{id}");
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

    #[test]
    fn parses_specs() {
        assert_eq!(
            "2/4".parse::<ShardSpec>().unwrap(),
            ShardSpec { index: 2, total: 4 }
        );
        assert_eq!(" 1/1 ".parse::<ShardSpec>().unwrap().to_string(), "1/1");
        assert_eq!("auto".parse::<ShardRequest>().unwrap(), ShardRequest::Auto);
        assert_eq!(
            "3/4".parse::<ShardRequest>().unwrap(),
            ShardRequest::Explicit(ShardSpec { index: 3, total: 4 })
        );
    }

    #[test]
    fn bad_specs_get_one_line_errors() {
        let error = |text: &str| text.parse::<ShardSpec>().unwrap_err().to_string();
        assert_eq!(
            error("5/4"),
            "invalid shard 5/4: there are only 4 shards (use 1/4 to 4/4)"
        );
        assert_eq!(
            error("0/4"),
            "invalid shard 0/4: shards are numbered from 1 (use 1/4 to 4/4)"
        );
        assert_eq!(
            error("2/0"),
            "invalid shard 2/0: the total number of shards must be at least 1"
        );
        for bad in [
            "x/4",
            "1/",
            "/4",
            "1",
            "",
            "1/2/3",
            "-1/4",
            "+1/4",
            "1.5/4",
            "99999999999/4",
        ] {
            assert_eq!(
                error(bad),
                format!(
                    "invalid shard \"{bad}\": expected K/N with whole numbers, e.g. --shard 2/4"
                ),
            );
        }
        for bad in ["5/4", "x/4"] {
            assert!(!error(bad).contains('\n'));
        }
        assert_eq!(
            "random".parse::<ShardMode>().unwrap_err().to_string(),
            "unknown shard mode \"random\": expected duration, hash or slice"
        );
        assert_eq!("Hash".parse::<ShardMode>().unwrap(), ShardMode::Hash);
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn detects_each_ci_provider() {
        let spec = |vars: &[(&str, &str)]| detect_ci_shard(&env_of(vars));
        let two_of_four = Ok(Some(ShardSpec { index: 2, total: 4 }));
        assert_eq!(spec(&[]), Ok(None));
        assert_eq!(
            spec(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "4")]),
            two_of_four
        );
        assert_eq!(
            spec(&[("CIRCLE_NODE_INDEX", "1"), ("CIRCLE_NODE_TOTAL", "4")]),
            two_of_four
        );
        assert_eq!(
            spec(&[
                ("BUILDKITE_PARALLEL_JOB", "1"),
                ("BUILDKITE_PARALLEL_JOB_COUNT", "4")
            ]),
            two_of_four
        );
        assert_eq!(
            spec(&[("TEST_SHARD_INDEX", "1"), ("TEST_TOTAL_SHARDS", "4")]),
            two_of_four
        );
        // GitLab sets CI_NODE_TOTAL=1 on jobs without `parallel:`.
        assert_eq!(spec(&[("CI_NODE_TOTAL", "1")]), Ok(None));
        // Empty counts as unset.
        assert_eq!(
            spec(&[("CI_NODE_INDEX", ""), ("CI_NODE_TOTAL", "")]),
            Ok(None)
        );
        // Bazel wins over the CI job around it.
        assert_eq!(
            spec(&[
                ("CI_NODE_INDEX", "1"),
                ("CI_NODE_TOTAL", "2"),
                ("TEST_SHARD_INDEX", "1"),
                ("TEST_TOTAL_SHARDS", "4")
            ]),
            two_of_four
        );
        assert_eq!(
            ShardRequest::Auto.resolve(&env_of(&[
                ("CIRCLE_NODE_INDEX", "3"),
                ("CIRCLE_NODE_TOTAL", "4")
            ])),
            Ok(Some(ShardSpec { index: 4, total: 4 }))
        );
        assert_eq!(
            ShardRequest::Explicit(ShardSpec { index: 1, total: 2 })
                .resolve(&env_of(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "2")])),
            Ok(Some(ShardSpec { index: 1, total: 2 }))
        );
    }

    #[test]
    fn bad_ci_environments_are_errors() {
        let error = |vars: &[(&str, &str)]| detect_ci_shard(&env_of(vars)).unwrap_err().to_string();
        assert_eq!(
            error(&[("CI_NODE_INDEX", "2")]),
            "GitLab sharding: CI_NODE_INDEX is set but CI_NODE_TOTAL is not"
        );
        assert_eq!(
            error(&[("CIRCLE_NODE_TOTAL", "4")]),
            "CircleCI sharding: CIRCLE_NODE_TOTAL is set but CIRCLE_NODE_INDEX is not"
        );
        assert_eq!(
            error(&[
                ("BUILDKITE_PARALLEL_JOB", "x"),
                ("BUILDKITE_PARALLEL_JOB_COUNT", "4")
            ]),
            "Buildkite sharding: BUILDKITE_PARALLEL_JOB=\"x\" is not a whole number"
        );
        assert_eq!(
            error(&[("CIRCLE_NODE_INDEX", "4"), ("CIRCLE_NODE_TOTAL", "4")]),
            "CircleCI sharding: CIRCLE_NODE_INDEX=4 does not fit CIRCLE_NODE_TOTAL=4 (0 to 3 expected)"
        );
        assert_eq!(
            error(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "4")]),
            "GitLab sharding: CI_NODE_INDEX=0 does not fit CI_NODE_TOTAL=4 (1 to 4 expected)"
        );
        assert!(detect_ci_shard(&env_of(&[
            ("TEST_SHARD_INDEX", "0"),
            ("TEST_TOTAL_SHARDS", "0")
        ]))
        .is_err());
    }

    #[test]
    fn bazel_environment() {
        assert_eq!(bazel_test_env(&env_of(&[("CI_NODE_TOTAL", "1")])), None);
        let dir = tempfile_dir();
        let status = dir.join("status");
        let xml = dir.join("test.xml");
        let env = env_of(&[
            ("TEST_SHARD_STATUS_FILE", status.to_str().unwrap()),
            ("XML_OUTPUT_FILE", xml.to_str().unwrap()),
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", "0"),
        ]);
        let bazel = bazel_test_env(&env).unwrap();
        assert_eq!(bazel.xml_output_file.as_deref(), Some(xml.as_path()));
        bazel.touch_shard_status_file().unwrap();
        bazel.touch_shard_status_file().unwrap();
        assert!(status.is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A fresh directory under the system temp dir (this crate has no
    /// tempfile dependency for one test).
    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dbtest-shard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn item(id: &str, class: Option<&str>, style: Style) -> TestItem {
        let (rel, name) = id.split_once("::").unwrap();
        let mut item = TestItem::new(rel, name, class, 0, style);
        item.class_setup = class.is_some();
        item
    }

    #[test]
    fn classes_stay_together() {
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
        let units = shard_units(&items, &selected, &durations);
        let keys: Vec<&str> = units.units.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(
            keys,
            ["a.py::TestX", "a.py::test_f", "b.py::Suite", "b.py::test_g"]
        );
        assert_eq!(units.members, [vec![0, 2], vec![1], vec![3], vec![4]]);
        // test_2 unknown: counts as the mean test duration, 1.5.
        assert_eq!(units.units[0].duration, Some(3.5));
        assert_eq!(units.units[1].duration, Some(1.0));
        assert_eq!(units.units[2].duration, None);

        let mut all = Vec::new();
        for index in 1..=3 {
            let spec = ShardSpec::new(index, 3).unwrap();
            let part = shard_items(&items, &selected, spec, ShardMode::Duration, &durations);
            assert!(part.windows(2).all(|w| w[0] < w[1]), "selection order kept");
            assert_eq!(part.contains(&0), part.contains(&2));
            all.extend(part);
        }
        all.sort();
        assert_eq!(all, selected);
    }
}
