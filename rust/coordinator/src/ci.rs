//! What a run learns from its CI environment: `--shard auto` (GitLab,
//! CircleCI, Buildkite, Bazel) and what `bazel test` expects of it
//! (`TEST_SHARD_STATUS_FILE`, `XML_OUTPUT_FILE`). Kept out of the pure
//! selection crate: everything here reads the process environment (through a
//! lookup function, so that tests can give their own).

use dbtest_select::{ShardError, ShardRequest, ShardSpec};
use std::path::PathBuf;

/// Why the CI environment does not say which shard this is. One line each,
/// fit for `dbtest: error: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CiShardError {
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
    #[error(transparent)]
    Spec(#[from] ShardError),
}

/// The shard a `--shard` request means, or `None` to run everything (`auto`
/// outside a sharded CI job). `env` looks a variable up; pass [`process_env`]
/// for the process environment.
pub(crate) fn resolve_shard(
    request: ShardRequest,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ShardSpec>, CiShardError> {
    match request {
        ShardRequest::Explicit(spec) => Ok(Some(spec)),
        ShardRequest::Auto => detect_ci_shard(env),
    }
}

/// The process environment, for `--shard auto` and Bazel.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
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
pub(crate) fn detect_ci_shard(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ShardSpec>, CiShardError> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    for provider in &PROVIDERS {
        let number = |var: &'static str, value: String| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| CiShardError::NotANumber {
                    provider: provider.name,
                    var,
                    value,
                })
        };
        match (get(provider.index), get(provider.total)) {
            (None, None) => continue,
            (None, Some(total)) if total.trim() == "1" => continue,
            (Some(_), None) => {
                return Err(CiShardError::HalfPair {
                    provider: provider.name,
                    set: provider.index,
                    unset: provider.total,
                })
            }
            (None, Some(_)) => {
                return Err(CiShardError::HalfPair {
                    provider: provider.name,
                    set: provider.total,
                    unset: provider.index,
                })
            }
            (Some(index), Some(total)) => {
                let index = number(provider.index, index)?;
                let total = number(provider.total, total)?;
                let last = (total + provider.first).saturating_sub(1);
                let out_of_range = || CiShardError::OutOfRange {
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
                return Ok(Some(ShardSpec::new(index32, total32)?));
            }
        }
    }
    Ok(None)
}

/// What a run under `bazel test` owes Bazel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BazelTestEnv {
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
pub(crate) fn bazel_test_env(env: &dyn Fn(&str) -> Option<String>) -> Option<BazelTestEnv> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
            resolve_shard(
                ShardRequest::Auto,
                &env_of(&[("CIRCLE_NODE_INDEX", "3"), ("CIRCLE_NODE_TOTAL", "4")])
            ),
            Ok(Some(ShardSpec { index: 4, total: 4 }))
        );
        assert_eq!(
            resolve_shard(
                ShardRequest::Explicit(ShardSpec { index: 1, total: 2 }),
                &env_of(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "2")])
            ),
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
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("status");
        let xml = dir.path().join("test.xml");
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
    }
}
