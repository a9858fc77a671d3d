//! `dbtest bench`'s own settings (`--bench-time`, `--save`, `--compare`,
//! `--fail-on-regression`), checked: a budget of zero or a name that cannot be
//! a file name is a usage error, and so are these options on another command.

use crate::{CliArgs, Command, ConfigError};

/// Per-member time budget unless `--bench-time` says otherwise (seconds).
pub const DEFAULT_BENCH_TIME: f64 = 5.0;

#[derive(Debug, Clone, PartialEq)]
pub struct BenchSettings {
    /// Seconds each member may take (after its 5 rounds).
    pub time: f64,
    pub save: Option<String>,
    pub compare: Option<String>,
    /// Percent.
    pub fail_on_regression: Option<f64>,
}

impl BenchSettings {
    pub fn from_cli(cli: &CliArgs) -> Result<BenchSettings, ConfigError> {
        let given = [
            ("--bench-time", cli.bench_time.is_some()),
            ("--save", cli.save.is_some()),
            ("--compare", cli.compare.is_some()),
            ("--fail-on-regression", cli.fail_on_regression.is_some()),
        ];
        if cli.command != Command::Bench {
            if let Some((name, _)) = given.iter().find(|(_, set)| *set) {
                return Err(ConfigError::Invalid(format!(
                    "{name} applies to `dbtest bench` only"
                )));
            }
        }
        let time = cli.bench_time.unwrap_or(DEFAULT_BENCH_TIME);
        if !(time.is_finite() && time > 0.0) {
            return Err(ConfigError::Invalid(format!(
                "--bench-time must be a number of seconds above 0, not {time}"
            )));
        }
        if let Some(pct) = cli.fail_on_regression {
            if !(pct.is_finite() && pct >= 0.0) {
                return Err(ConfigError::Invalid(format!(
                    "--fail-on-regression must be a percentage of at least 0, not {pct}"
                )));
            }
            if cli.compare.is_none() {
                return Err(ConfigError::Invalid(
                    "--fail-on-regression needs --compare NAME (a saved run to compare with)"
                        .into(),
                ));
            }
        }
        Ok(BenchSettings {
            time,
            save: cli.save.clone(),
            compare: cli.compare.clone(),
            fail_on_regression: cli.fail_on_regression,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(f: impl FnOnce(&mut CliArgs)) -> Result<BenchSettings, ConfigError> {
        let mut cli = CliArgs {
            command: Command::Bench,
            ..CliArgs::default()
        };
        f(&mut cli);
        BenchSettings::from_cli(&cli)
    }

    #[test]
    fn defaults_and_values() {
        let s = bench(|_| {}).unwrap();
        assert_eq!(s.time, DEFAULT_BENCH_TIME);
        let s = bench(|c| {
            c.compare = Some("main".into());
            c.fail_on_regression = Some(5.0);
        })
        .unwrap();
        assert_eq!(s.fail_on_regression, Some(5.0));
    }

    #[test]
    fn bad_values_are_errors() {
        let err = bench(|c| c.bench_time = Some(0.0)).unwrap_err().to_string();
        assert!(err.contains("--bench-time must be"), "{err}");
        assert!(bench(|c| c.fail_on_regression = Some(5.0)).is_err());
        let cli = CliArgs {
            save: Some("x".into()),
            ..CliArgs::default()
        };
        let err = BenchSettings::from_cli(&cli).unwrap_err().to_string();
        assert!(err.contains("`dbtest bench` only"), "{err}");
    }
}
