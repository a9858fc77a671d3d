//! The coordinator: everything `dbtest` does after the shim has parsed the
//! command line. Entered through the Python extension (`dbtest._core.run`) or
//! the `dbtest-coordinator` binary, with the same JSON arguments.

mod bench;
mod budget;
mod cache;
mod changed;
mod ci;
mod coverage;
mod error;
mod execute;
pub mod exit;
mod list;
mod list_import;
mod merge;
mod pipeline;
mod plan;
mod pytest;
mod reports;
mod state;
mod watch;

pub use dbtest_runner::ForkServer;
pub use error::CoordinatorError;

use dbtest_config::{CliArgs, Command, Settings};
use std::io::Write;
use std::time::Instant;

/// Runs a whole `dbtest` invocation and returns its exit code. `interrupted` is
/// polled (about ten times a second) to learn of Ctrl-C. `fork_server`: one the
/// `dbtest` command started for the workers; ended here whether used or not.
pub fn run(cli: CliArgs, fork_server: Option<ForkServer>, interrupted: &dyn Fn() -> bool) -> i32 {
    match run_inner(cli, fork_server, interrupted) {
        Ok(code) => code,
        Err(err) => {
            let _ = std::io::stdout().flush();
            eprintln!("dbtest: error: {err}");
            err.exit_code()
        }
    }
}

/// Parses the shim's JSON arguments, then [`run`]s.
pub fn run_json(
    args: &str,
    fork_server: Option<ForkServer>,
    interrupted: &dyn Fn() -> bool,
) -> i32 {
    match dbtest_config::parse_cli_json(args) {
        Ok(cli) => run(cli, fork_server, interrupted),
        Err(err) => {
            eprintln!("dbtest: error: {err}");
            exit::INTERNAL_ERROR
        }
    }
}

/// The `dbtest list --format json` document for these arguments, without
/// printing anything or running any test.
pub fn list_document(args: &str) -> Result<String, CoordinatorError> {
    let cli = dbtest_config::parse_cli_json(args)?;
    let settings = Settings::resolve(cli)?;
    let changes = changed::ChangeSource::of(&settings);
    let (collected, targets) = pipeline::collect(&settings)?;
    let durations = durations_if_needed(&settings);
    let selection = pipeline::select(&settings, &collected, targets, &durations, changes)?;
    let listing = list_import::Listing::static_only(&selection);
    Ok(list::list_json(&settings, &collected, &selection, &listing).to_string())
}

/// Recorded durations, read only when they matter: a run orders work by them,
/// and a sharded selection may balance by them. (A large suite's file takes
/// milliseconds to parse; `dbtest list` should not pay for it.)
fn durations_if_needed(settings: &Settings) -> cache::DurationIndex {
    if settings.command == Command::Run || settings.shard.is_some() {
        cache::duration_index(settings)
    } else {
        cache::DurationIndex::default()
    }
}

fn run_inner(
    cli: CliArgs,
    fork_server: Option<ForkServer>,
    interrupted: &dyn Fn() -> bool,
) -> Result<i32, CoordinatorError> {
    let started = Instant::now();
    // `--watch` reads the configuration again for every run.
    let watch_cli = cli.watch.then(|| cli.clone());
    let settings = Settings::resolve(cli)?;
    if settings.command == Command::Merge {
        return merge::merge(&settings);
    }
    if !settings.quiet {
        for note in &settings.notes {
            eprintln!("dbtest: note: {note}");
        }
    }
    if let (Some(cli), Command::Run) = (watch_cli, settings.command) {
        return watch::watch(&settings, &cli, fork_server, interrupted, started);
    }
    memory_note("start");
    let changes = changed::ChangeSource::of(&settings);
    let (collected, targets) = pipeline::collect(&settings)?;
    memory_note("collected");
    let durations = durations_if_needed(&settings);
    let selection = pipeline::select(&settings, &collected, targets, &durations, changes)?;
    match settings.command {
        Command::List => list::list(&settings, &collected, &selection, interrupted),
        Command::Bench => bench::bench(&settings, collected, &selection, interrupted),
        Command::Run | Command::Merge => execute::execute(
            &settings,
            collected,
            &selection,
            durations,
            execute::Workers::Fresh(fork_server),
            interrupted,
            started,
        ),
    }
}

/// `DBTEST_TIMINGS=1`: the coordinator's resident memory (now and peak) at a
/// stage of the run, on stderr, to see where a large suite's memory goes.
/// Linux only (elsewhere the figures are blank).
pub(crate) fn memory_note(stage: &str) {
    if !dbtest_runner::timings_enabled() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let pick = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .map(|l| l[key.len()..].trim().to_string())
            .unwrap_or_default()
    };
    eprintln!(
        "dbtest memory: {stage}: rss {} hwm {}",
        pick("VmRSS:"),
        pick("VmHWM:")
    );
}
