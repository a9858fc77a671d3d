//! Settings: what the command line said (as JSON from the Python shim or the
//! `dbtest-coordinator` binary), merged over `[tool.dbtest]` in the project's
//! `pyproject.toml`. The command line wins.

mod addopts;
mod bench;
mod changed;
mod coverage;
mod file;
mod testpaths;

pub use addopts::AddOpts;
pub use bench::{BenchSettings, DEFAULT_BENCH_TIME};
pub use changed::ChangedArgs;
pub use coverage::{CoverageArgs, CoverageReport, CoverageSettings};
use dbtest_model::Kind;
pub use dbtest_pytest_config::normalize;
pub use dbtest_pytest_config::{PytestConfig, PytestConfigError, PytestSettings, Strategy};
pub use file::{load_file_config, FileConfig, FlakyResult, KEYS, SHARD_MODES};
use serde::Deserialize;
use std::path::PathBuf;
use testpaths::expand_testpaths;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Pytest(#[from] PytestConfigError),
    #[error("invalid arguments: {0}")]
    Arguments(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Run the selected tests.
    #[default]
    Run,
    /// Print the selected ids without running anything.
    List,
    /// Combine shard reports (and durations files) into one.
    Merge,
    /// Measure the selected benchmarks in the exclusive lane.
    Bench,
}

/// Output format of `list` (and, later, of run reports on stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Console,
    Json,
    Markdown,
    Junit,
}

/// The command line, as the shim passes it. Every field is optional so that the
/// file configuration can fill the gaps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CliArgs {
    pub command: Command,
    /// `unit`, `integration`, `benchmark`; empty for everything.
    pub kinds: Vec<Kind>,
    /// Files, directories and node ids (`path::Class::test`).
    pub paths: Vec<String>,
    /// Invocation directory (defaults to the process's).
    pub cwd: Option<PathBuf>,
    /// Interpreter for workers (the shim passes `sys.executable`).
    pub python: Option<PathBuf>,
    /// Its version (`3.12.3`; the shim's own, since workers run the same
    /// interpreter): reports carry it even when no worker started.
    pub python_version: Option<String>,
    pub jobs: Option<usize>,
    pub keyword: Option<String>,
    pub tags: Option<String>,
    /// `false` for `-s`.
    pub capture: Option<bool>,
    pub verbose: u8,
    pub quiet: bool,
    pub timeout: Option<f64>,
    pub maxfail: Option<usize>,
    pub format: Option<Format>,
    /// `auto`, `yes`, `no`.
    pub color: Option<String>,
    pub no_cache: bool,
    pub cache_dir: Option<PathBuf>,
    pub durations: Option<usize>,
    pub max_worker_restart: Option<usize>,
    /// `--lf`: only the tests that failed last time (all if none did).
    pub last_failed: bool,
    /// `--ff`: the tests that failed last time first, then the rest.
    pub failed_first: bool,
    pub retries: Option<u32>,
    /// `--flaky-result fail`: a test that passed only on a retry fails the run.
    pub flaky_fails: Option<bool>,
    pub max_tests_per_worker: Option<usize>,
    /// `--max-worker-rss`, e.g. `512M`, `2G`, `1500000` (bytes).
    pub max_worker_rss: Option<String>,
    /// `K/N` or `auto`.
    pub shard: Option<String>,
    /// `duration`, `hash` or `slice`.
    pub shard_mode: Option<String>,
    pub junit_xml: Option<PathBuf>,
    pub json_report: Option<PathBuf>,
    pub markdown_report: Option<PathBuf>,
    /// `dbtest merge --durations FILE`: where the merged durations go.
    pub durations_out: Option<PathBuf>,
    /// What followed `--`: options for the project's conftests (`pytest_addoption`).
    pub extra_args: Vec<String>,
    /// pytest's options given on the command line that dbtest has no option
    /// of its own for (`-W error`, `--strict-markers`, `-ra`...): read as
    /// pytest's `addopts` are, after them, as pytest puts the command line
    /// after `addopts`.
    pub pytest_args: Vec<String>,
    /// The version of the pytest installed beside dbtest (`9.2.0`), if any:
    /// where pytest's behaviour changed between releases, dbtest follows the
    /// one installed.
    pub pytest_version: Option<String>,
    /// `--shuffle`: run the tests in an order drawn from `seed` (or a new seed).
    pub shuffle: bool,
    /// `--seed N`: the shuffle's seed (implies `--shuffle`).
    pub seed: Option<u64>,
    /// `--import-all`: import every selected test module before any test runs.
    pub import_all: Option<bool>,
    /// `--rerun-alone N`: rerun up to N failures alone in a fresh worker.
    pub rerun_alone: Option<usize>,
    /// `--cov` (`null`: without a source) and `--cov=SOURCE`, in order.
    pub cov: Vec<Option<String>>,
    pub cov_report: Vec<String>,
    pub cov_fail_under: Option<f64>,
    pub cov_branch: bool,
    pub cov_config: Option<String>,
    pub no_cov: bool,
    pub cov_context: Option<String>,
    /// `--html FILE`: the self-contained HTML report.
    pub html: Option<PathBuf>,
    /// `dbtest bench`: per-member time budget (seconds), saved runs, the gate.
    pub bench_time: Option<f64>,
    pub save: Option<String>,
    pub compare: Option<String>,
    pub fail_on_regression: Option<f64>,
    /// `--changed [REF]`: the revision to compare the work tree with (`HEAD`).
    pub changed: Option<String>,
    /// `--explain`: say why each test was selected.
    pub explain: bool,
    /// `--static` (`dbtest list`): only what the static pass sees, importing
    /// nothing.
    pub static_list: bool,
    /// `--budget SECONDS`.
    pub budget: Option<f64>,
    pub budget_strict: bool,
    pub watch: bool,
    /// The interpreter's `sys.path` (sent with `--changed` and `--watch`).
    pub sys_path: Vec<PathBuf>,
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub command: Command,
    pub kinds: Vec<Kind>,
    pub cwd: PathBuf,
    pub rootdir: PathBuf,
    /// The `pyproject.toml` that configured this run, if any.
    pub config_file: Option<PathBuf>,
    /// The file pytest's configuration was read from, if any.
    pub pytest_inifile: Option<PathBuf>,
    /// pytest's settings (its configuration file, its `addopts`'s `-o`).
    pub pytest: PytestSettings,
    /// Every setting of pytest's configuration file as written (for `config.getini`).
    pub pytest_ini: Vec<(String, dbtest_pytest_config::Value)>,
    /// `-W` filters from `addopts`, applied after `filterwarnings`.
    pub warning_filters: Vec<String>,
    /// Paths and globs not to collect (`--ignore`, `--ignore-glob`), and
    /// node ids not to select (`--deselect`), from `addopts`.
    pub ignore: Vec<PathBuf>,
    pub ignore_glob: Vec<String>,
    pub deselect: Vec<String>,
    /// Things about the configuration worth saying once, before the run.
    pub notes: Vec<String>,
    /// Options for the project's conftests, given after `--`.
    pub extra_args: Vec<String>,
    /// Paths as given (relative to `cwd`), node-id suffixes included.
    pub paths: Vec<String>,
    pub python: PathBuf,
    pub python_version: Option<String>,
    pub jobs: usize,
    pub keyword: Option<String>,
    pub tags: Option<String>,
    pub capture: bool,
    pub verbose: u8,
    pub quiet: bool,
    /// `dbtest list --static`: list only what the static pass sees; files that
    /// may define more tests at import are not imported.
    pub static_list: bool,
    pub timeout: Option<f64>,
    pub maxfail: Option<usize>,
    pub format: Format,
    /// `None`: colour when writing to a terminal.
    pub color: Option<bool>,
    pub cache_dir: Option<PathBuf>,
    pub durations: Option<usize>,
    pub max_worker_restart: usize,
    pub last_failed: bool,
    pub failed_first: bool,
    pub retries: u32,
    pub flaky_fails: bool,
    pub max_tests_per_worker: Option<usize>,
    pub max_worker_rss: Option<u64>,
    pub shard: Option<String>,
    pub shard_mode: Option<String>,
    /// Report files (absolute).
    pub junit_xml: Option<PathBuf>,
    pub json_report: Option<PathBuf>,
    pub markdown_report: Option<PathBuf>,
    pub durations_out: Option<PathBuf>,
    pub test_patterns: Vec<String>,
    pub bench_patterns: Vec<String>,
    /// The seed of a shuffled run (`--shuffle`, `--seed`).
    pub shuffle: Option<u64>,
    /// Every selected test module is imported before any test runs.
    pub import_all: bool,
    /// Failures rerun alone in a fresh worker, at most.
    pub rerun_alone: usize,
    /// `--cov`: what to measure and report (`None`: coverage is off).
    pub coverage: Option<CoverageSettings>,
    /// `--html FILE` (absolute).
    pub html_report: Option<PathBuf>,
    /// `dbtest bench`'s options.
    pub bench: BenchSettings,
    /// `--changed`, `--watch`, `--budget` (see [`ChangedArgs`]).
    pub changed: ChangedArgs,
    /// `[tool.dbtest] source-roots` (absolute).
    pub source_roots: Vec<PathBuf>,
}

/// Failures rerun alone per run unless `--rerun-alone` says otherwise.
pub const DEFAULT_RERUN_ALONE: usize = 10;

/// A seed for `--shuffle` without `--seed`: different from run to run, and
/// small enough to type back.
fn new_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64 ^ d.as_secs());
    (nanos ^ (u64::from(std::process::id()) << 16)) % 1_000_000
}

impl Settings {
    /// Merges the command line over the project's file configuration.
    pub fn resolve(cli: CliArgs) -> Result<Settings, ConfigError> {
        if cli.static_list && cli.command != Command::List {
            return Err(ConfigError::Invalid(
                "--static applies to `dbtest list` (--collect-only) only".into(),
            ));
        }
        let cwd = match cli.cwd.clone() {
            Some(cwd) => cwd,
            None => std::env::current_dir()
                .map_err(|e| ConfigError::Invalid(format!("no working directory: {e}")))?,
        };
        let mut pytest_config = PytestConfig::locate(&cwd, &cli.paths)?;
        let mut words = pytest_config.args("addopts")?.unwrap_or_default();
        let from_file = words.len();
        words.extend(cli.pytest_args.iter().cloned());
        let addopts = AddOpts::parse(&words);
        for (key, value) in &addopts.overrides {
            pytest_config.set(key, value);
        }
        let pytest = PytestSettings::from_config(&pytest_config)?;
        let rootdir = pytest_config.rootdir.clone();
        let mut notes = Vec::new();
        let file_ignored = AddOpts::parse(&words[..from_file]).ignored;
        if !file_ignored.is_empty() {
            notes.push(format!(
                "ignoring pytest options dbtest does not support, from addopts in {}: {}",
                pytest_config
                    .inifile
                    .as_ref()
                    .map_or_else(String::new, |p| p.display().to_string()),
                file_ignored.join(" ")
            ));
        }
        let cli_ignored = AddOpts::parse(&cli.pytest_args).ignored;
        if !cli_ignored.is_empty() {
            notes.push(format!(
                "ignoring pytest options dbtest does not support: {}",
                cli_ignored.join(" ")
            ));
        }
        let pyproject = rootdir.join("pyproject.toml");
        let (file, config_file) = if pyproject.is_file() {
            match load_file_config(&pyproject)? {
                Some(file) => (file, Some(pyproject)),
                None => (FileConfig::default(), None),
            }
        } else {
            (FileConfig::default(), None)
        };
        let jobs = cli
            .jobs
            .or(file.jobs)
            .or(addopts.jobs.map(|n| n.unwrap_or_else(default_jobs)))
            .unwrap_or_else(default_jobs);
        if jobs == 0 {
            return Err(ConfigError::Invalid(
                "--jobs must be a whole number of workers, at least 1, not 0".into(),
            ));
        }
        let timeout = cli.timeout.or(file.timeout).or(addopts.timeout);
        if let Some(t) = timeout.filter(|t| !(*t > 0.0 && t.is_finite())) {
            let source = if cli.timeout.is_some() {
                String::new()
            } else {
                format!("{}: addopts: ", addopts_location(&pytest_config))
            };
            return Err(ConfigError::Invalid(format!(
                "{source}--timeout must be a number of seconds greater than 0, not {t}"
            )));
        }
        if let Some(mode) = cli.shard_mode.as_deref() {
            if !SHARD_MODES.contains(&mode) {
                return Err(ConfigError::Invalid(format!(
                    "--shard-mode must be duration, hash or slice, not {mode}"
                )));
            }
        }
        let paths = if !cli.paths.is_empty() {
            cli.paths.clone()
        } else if let Some(paths) = &file.paths {
            // Paths from the file are relative to the project root.
            paths
                .iter()
                .map(|p| rootdir.join(p).to_string_lossy().into_owned())
                .collect()
        } else if cwd == rootdir {
            // As pytest: `testpaths` only when run from the rootdir.
            expand_testpaths(&rootdir, &pytest.testpaths)
        } else {
            Vec::new()
        };
        let color = match cli.color.as_deref() {
            Some("yes") => Some(true),
            Some("no") => Some(false),
            None | Some("auto") => None,
            Some(other) => {
                return Err(ConfigError::Invalid(format!(
                    "color must be auto, yes or no, not {other}"
                )))
            }
        };
        let cache_dir = if cli.no_cache {
            None
        } else {
            let dir = cli
                .cache_dir
                .clone()
                .map(|d| cwd.join(d))
                .or_else(|| file.cache_dir.as_ref().map(|d| rootdir.join(d)))
                .unwrap_or_else(|| rootdir.join(".dbtest"));
            Some(dir)
        };
        let max_worker_rss = match cli.max_worker_rss.as_deref() {
            Some(text) => Some(parse_size(text).map_err(|_| {
                ConfigError::Invalid(format!(
                    "--max-worker-rss must be a size such as 512M or 2G, not {text}"
                ))
            })?),
            None => file.max_worker_rss,
        };
        if cli.max_tests_per_worker == Some(0) {
            return Err(ConfigError::Invalid(
                "--max-tests-per-worker must be a whole number of tests, at least 1, not 0".into(),
            ));
        }
        let report_path = |cli_path: &Option<PathBuf>, file_path: &Option<PathBuf>| {
            cli_path
                .as_ref()
                .map(|p| cwd.join(p))
                .or_else(|| file_path.as_ref().map(|p| rootdir.join(p)))
        };
        let junit_xml = report_path(&cli.junit_xml, &file.junit_xml)
            .or_else(|| addopts.junit_xml.as_ref().map(|p| cwd.join(p)));
        let json_report = report_path(&cli.json_report, &file.json_report);
        changed::check(&cli)?;
        let markdown_report = report_path(&cli.markdown_report, &file.markdown_report);
        let coverage = CoverageSettings::resolve(
            &addopts.coverage,
            &CoverageArgs {
                sources: cli.cov.clone(),
                reports: cli.cov_report.clone(),
                fail_under: cli.cov_fail_under.map(|v| v.to_string()),
                branch: cli.cov_branch,
                config: cli.cov_config.clone(),
                no_cov: cli.no_cov,
                context: cli.cov_context.clone(),
            },
        )?;
        let bench = BenchSettings::from_cli(&cli)?;
        Ok(Settings {
            coverage,
            html_report: cli.html.as_ref().map(|p| cwd.join(p)),
            bench,
            junit_xml,
            json_report,
            markdown_report,
            durations_out: cli.durations_out.as_ref().map(|p| cwd.join(p)),
            shard: cli.shard.clone(),
            shard_mode: cli.shard_mode.clone().or(file.shard_mode.clone()),
            last_failed: cli.last_failed || addopts.last_failed,
            failed_first: cli.failed_first || addopts.failed_first,
            retries: cli.retries.or(file.retries).unwrap_or(0),
            flaky_fails: cli
                .flaky_fails
                .unwrap_or(file.flaky_result == Some(FlakyResult::Fail)),
            max_tests_per_worker: cli.max_tests_per_worker.or(file.max_tests_per_worker),
            max_worker_rss,
            shuffle: (cli.shuffle || cli.seed.is_some()).then(|| cli.seed.unwrap_or_else(new_seed)),
            import_all: cli.import_all.or(file.import_all).unwrap_or(false),
            rerun_alone: cli
                .rerun_alone
                .or(file.rerun_alone)
                .unwrap_or(DEFAULT_RERUN_ALONE),
            command: cli.command,
            kinds: cli.kinds.clone(),
            python: cli
                .python
                .clone()
                .unwrap_or_else(|| PathBuf::from("python3")),
            python_version: cli.python_version.clone(),
            jobs,
            keyword: cli.keyword.clone().or(addopts.keyword.clone()),
            tags: cli.tags.clone().or(addopts.tags.clone()),
            capture: cli.capture.or(addopts.capture).unwrap_or(true),
            verbose: if cli.verbose > 0 || cli.quiet {
                cli.verbose
            } else {
                addopts.verbose
            },
            quiet: cli.quiet || (cli.verbose == 0 && addopts.quiet),
            static_list: cli.static_list,
            timeout,
            maxfail: cli.maxfail.or(addopts.maxfail),
            format: cli.format.unwrap_or_default(),
            color,
            cache_dir,
            durations: cli.durations.or(addopts.durations),
            max_worker_restart: cli
                .max_worker_restart
                .or(file.max_worker_restart)
                .unwrap_or(4 * jobs),
            test_patterns: file
                .test_patterns
                .clone()
                .unwrap_or_else(|| pytest.python_files.clone()),
            bench_patterns: file
                .bench_patterns
                .clone()
                .unwrap_or_else(|| vec!["bench_*.py".into()]),
            paths,
            pytest_inifile: pytest_config.inifile.clone(),
            pytest_ini: pytest_config
                .values()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            pytest: PytestSettings {
                strict_markers: pytest.strict_markers || addopts.strict_markers,
                long_str_strategy: if version_before(cli.pytest_version.as_deref(), (9, 2)) {
                    // pytest 9.2 shortened long string parameters in ids; before, ids held them whole.
                    dbtest_pytest_config::Strategy::Legacy
                } else {
                    pytest.long_str_strategy
                },
                ..pytest
            },
            warning_filters: addopts.warning_filters,
            ignore: addopts
                .ignore
                .iter()
                .map(|p| normalize(&cwd.join(p)))
                .collect(),
            ignore_glob: addopts.ignore_glob,
            deselect: addopts.deselect,
            notes,
            extra_args: cli.extra_args.clone(),
            source_roots: file
                .source_roots
                .iter()
                .flatten()
                .map(|p| normalize(&rootdir.join(p)))
                .collect(),
            changed: ChangedArgs {
                changed: cli.changed.clone(),
                explain: cli.explain,
                budget: cli.budget,
                budget_strict: cli.budget_strict,
                watch: cli.watch,
                sys_path: cli.sys_path.clone(),
            },
            cwd,
            rootdir,
            config_file,
        })
    }
}

/// Where pytest's `addopts` was read: `FILE:LINE` (or just the file, or the
/// environment).
fn addopts_location(config: &PytestConfig) -> String {
    let Some(inifile) = &config.inifile else {
        return "PYTEST_ADDOPTS".into();
    };
    match dbtest_pytest_config::line_of(inifile, "addopts") {
        Some(line) => format!("{}:{line}", inifile.display()),
        None => inifile.display().to_string(),
    }
}

/// `512M`, `2G`, `64k`, `1500000`: a size in bytes (binary multiples).
pub fn parse_size(text: &str) -> Result<u64, ConfigError> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_uppercase().trim_end_matches('B') {
        "" => 1,
        "K" | "KI" => 1 << 10,
        "M" | "MI" => 1 << 20,
        "G" | "GI" => 1 << 30,
        _ => {
            return Err(ConfigError::Invalid(format!(
                "not a size: {text} (a size such as 512M or 2G)"
            )))
        }
    };
    let value: u64 = digits.parse().map_err(|_| {
        ConfigError::Invalid(format!("not a size: {text} (a size such as 512M or 2G)"))
    })?;
    match value.checked_mul(multiplier) {
        Some(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(ConfigError::Invalid(format!("not a usable size: {text}"))),
    }
}

/// Usable CPUs (honours affinity masks and cgroup quotas). Asked once per
/// process: the answer takes a handful of file reads (cgroup quotas).
pub fn default_jobs() -> usize {
    static USABLE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *USABLE.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Parses the shim's JSON arguments.
pub fn parse_cli_json(json: &str) -> Result<CliArgs, ConfigError> {
    serde_json::from_str(json).map_err(|e| ConfigError::Arguments(e.to_string()))
}

/// Whether `version` (`9.1.0`, `8.3.5`, `9.2.0rc1`) is a release before
/// `(major, minor)`; false when unknown.
fn version_before(version: Option<&str>, (major, minor): (u64, u64)) -> bool {
    let Some(version) = version else {
        return false;
    };
    let mut numbers = version.split('.').map(|part| {
        part.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    });
    let mut next = || numbers.next().and_then(|n| n.parse::<u64>().ok());
    match (next(), next()) {
        (Some(a), Some(b)) => (a, b) < (major, minor),
        (Some(a), None) => a < major,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn resolve_in(cwd: &Path, cli: CliArgs) -> Result<Settings, ConfigError> {
        Settings::resolve(CliArgs {
            cwd: Some(cwd.into()),
            ..cli
        })
    }

    #[test]
    fn rootdir_is_found_as_pytest_finds_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("proj/tests/unit")).unwrap();
        fs::write(root.join("proj/pyproject.toml"), "").unwrap();
        let paths = CliArgs {
            paths: vec!["proj/tests/unit".into()],
            ..CliArgs::default()
        };
        assert_eq!(resolve_in(root, paths).unwrap().rootdir, root.join("proj"));
        let settings = resolve_in(&root.join("proj/tests"), CliArgs::default()).unwrap();
        assert_eq!(settings.rootdir, root.join("proj"));
    }

    #[test]
    fn pytest_settings_and_addopts_apply_below_the_command_line() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("tests/a")).unwrap();
        fs::create_dir_all(root.join("tests/b")).unwrap();
        fs::write(
            root.join("pytest.ini"),
            "[pytest]\ntestpaths = tests/*\npython_files = check_*.py\naddopts = -x -k smoke --cov=src --doctest-modules -o xfail_strict=true\n",
        )
        .unwrap();
        let settings = resolve_in(root, CliArgs::default()).unwrap();
        assert_eq!(settings.maxfail, Some(1));
        assert_eq!(settings.keyword.as_deref(), Some("smoke"));
        assert!(settings.pytest.xfail_strict);
        assert_eq!(settings.test_patterns, ["check_*.py"]);
        let tests = root.join("tests").to_string_lossy().into_owned();
        assert_eq!(settings.paths, [format!("{tests}/a"), format!("{tests}/b")]);
        assert_eq!(settings.notes.len(), 1);
        assert!(
            settings.notes[0].contains("--doctest-modules"),
            "{:?}",
            settings.notes
        );
        // pytest-cov's options in addopts apply as they do under pytest.
        let coverage = settings.coverage.as_ref().unwrap();
        assert_eq!(coverage.source, Some(vec!["src".to_string()]));
        let cli = resolve_in(
            root,
            CliArgs {
                keyword: Some("other".into()),
                maxfail: Some(3),
                ..CliArgs::default()
            },
        )
        .unwrap();
        assert_eq!(
            (cli.keyword.as_deref(), cli.maxfail),
            (Some("other"), Some(3))
        );
        // testpaths apply only when run from the rootdir, as in pytest.
        let inside = resolve_in(&root.join("tests"), CliArgs::default()).unwrap();
        assert!(inside.paths.is_empty());
    }

    #[test]
    fn file_config_fills_gaps_and_cli_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::write(
            root.join("pyproject.toml"),
            "[tool.dbtest]\njobs = 3\ntimeout = 7.5\n",
        )
        .unwrap();
        let settings = Settings::resolve(CliArgs {
            cwd: Some(root.into()),
            jobs: Some(5),
            ..CliArgs::default()
        })
        .unwrap();
        assert_eq!(settings.jobs, 5);
        assert_eq!(settings.timeout, Some(7.5));
        assert_eq!(settings.config_file, Some(root.join("pyproject.toml")));
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::write(root.join("pyproject.toml"), "[tool.dbtest]\njbos = 3\n").unwrap();
        let err = Settings::resolve(CliArgs {
            cwd: Some(root.into()),
            ..CliArgs::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("jbos"), "{err}");
        fs::write(
            root.join("pyproject.toml"),
            "[tool.dbtest]\njobs = \"many\"\n",
        )
        .unwrap();
        let err = Settings::resolve(CliArgs {
            cwd: Some(root.into()),
            ..CliArgs::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("jobs"), "{err}");
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert_eq!(parse_size("1500").unwrap(), 1500);
        assert_eq!(parse_size("64KiB").unwrap(), 64 << 10);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("5T").is_err());
    }

    #[test]
    fn cli_json_rejects_unknown_fields() {
        assert!(parse_cli_json(r#"{"jobs": 2, "paths": ["a"]}"#).is_ok());
        assert!(parse_cli_json(r#"{"jobz": 2}"#).is_err());
    }

    #[test]
    fn versions_compare_by_major_and_minor() {
        assert!(version_before(Some("9.1.3"), (9, 2)));
        assert!(version_before(Some("8.4.0"), (9, 2)));
        assert!(!version_before(Some("9.2.0"), (9, 2)));
        assert!(!version_before(Some("9.2.0rc1"), (9, 2)));
        assert!(!version_before(Some("10.0"), (9, 2)));
        assert!(!version_before(None, (9, 2)));
        assert!(!version_before(Some("dev"), (9, 2)));
    }
}
