//! Sharding: splitting the selected tests over the N jobs of a CI matrix.
//!
//! Every shard computes the whole partition on its own and keeps its part, so
//! the partition must come out identical on every machine: it is a pure
//! function of the units' keys and durations. Each unit lands in exactly one
//! shard, so the union of the shards is the whole selection; tests that only
//! an import reveals are given to exactly one shard too ([`owners`]).
//!
//! - [`spec`]: `--shard K/N` (or `auto`) and `--shard-mode`, parsed.
//! - [`units`]: what must stay on one shard (a test, or a class kept whole).
//! - [`assign`]: the partition of units (duration, hash, slice).
//! - [`owners`]: this shard's part, and the owner of any test found at import.

mod assign;
mod owners;
mod spec;
mod units;

pub use assign::{assign, effective_durations, partition, ShardUnit};
pub use dbtest_model::fnv1a64;
pub use owners::{file_shard, shard_selection, ShardOwners, ShardedSelection};
pub use spec::{ShardError, ShardMode, ShardRequest, ShardSpec};
pub use units::{shard_units, ShardUnits};
