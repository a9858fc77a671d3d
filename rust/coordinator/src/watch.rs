//! `--watch`: a run, then another whenever project files change. A
//! file-system watcher (`notify`: inotify on Linux, no polling) reports
//! changes under the rootdir; they are debounced (a burst of saves is one
//! change), filtered by the change rules' idea of what is the project's, and
//! the tests they reach through the import graph run, under a header. Ctrl-C
//! during a run lets the run finish, then leaves with exit 2; a second Ctrl-C
//! interrupts the run as in a plain run (exit 2); between runs Ctrl-C leaves at
//! once, with exit 2.
//!
//! Workers are kept from one run to the next (`dbtest_runner::KeptWorkers`):
//! after a change, those that imported a module the change reaches (a changed
//! module, or one importing it, directly or not) are ended, the others serve
//! the next run with what they imported still imported. Not with `--cov` (a
//! run's coverage is what its workers saved when they ended) nor with
//! `--import-all` (the fork server imported every module of the first run).

use crate::changed::{bounds, ChangeSource, Traced};
use crate::error::CoordinatorError;
use crate::execute::{Kept, Workers};
use crate::{exit, pipeline};
use dbtest_changes::{Change, ProjectBounds, Status};
use dbtest_config::{CliArgs, Settings};
use dbtest_runner::{ForkServer, KeptWorkers};
use notify::{EventKind, RecursiveMode, Watcher};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Quiet time that ends a burst of changes.
const DEBOUNCE: Duration = Duration::from_millis(150);
/// A burst never delays a run longer than this.
const MAX_BURST: Duration = Duration::from_secs(2);
/// How often Ctrl-C is looked for while waiting.
const POLL: Duration = Duration::from_millis(50);

pub(crate) fn watch(
    settings: &Settings,
    cli: &CliArgs,
    fork_server: Option<ForkServer>,
    interrupted: &dyn Fn() -> bool,
    started: Instant,
) -> Result<i32, CoordinatorError> {
    let (tx, events) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let _ = tx.send(event);
        }
    })
    .map_err(|e| CoordinatorError::Internal(format!("--watch: cannot watch files: {e}")))?;
    watcher
        .watch(&settings.rootdir, RecursiveMode::Recursive)
        .map_err(|e| {
            CoordinatorError::Internal(format!(
                "--watch: cannot watch {}: {e}",
                settings.rootdir.display()
            ))
        })?;
    let bounds = bounds(settings);
    let (mut kept, fork_server) = if settings.coverage.is_none() && !settings.import_all {
        (Some(Kept::new(fork_server)?), None)
    } else {
        (None, fork_server)
    };
    let ctrl_c = CtrlC::new(interrupted);
    let run_interrupted = || ctrl_c.during_run();
    let mut round = 1;
    header(round, "first run");
    let code = run_once(
        settings,
        fork_server,
        kept.as_mut(),
        &run_interrupted,
        started,
        ChangeSource::of(settings),
    );
    if let Some(code) = ctrl_c.leaving(code) {
        return Ok(code);
    }
    loop {
        // What the run itself wrote (data files, a test's output) is not a change
        // to react to; a module saved meanwhile is.
        let during_run = pending(&events, &bounds)
            .into_iter()
            .filter(|p| is_python(p))
            .collect();
        say("waiting for changes (Ctrl-C to leave)");
        let Some(paths) = wait_for_changes(&events, &bounds, interrupted, during_run) else {
            return Ok(exit::INTERRUPTED);
        };
        round += 1;
        let names: Vec<String> = paths
            .iter()
            .map(|p| dbtest_discovery::relative_id_path(p, &settings.rootdir))
            .collect();
        let shown = match names.len() {
            1 => format!("{} changed", names[0]),
            n => format!("{}, and {} more changed", names[0], n - 1),
        };
        header(round, &shown);
        let files = paths
            .into_iter()
            .map(|path| Change {
                status: if path.exists() {
                    Status::Modified
                } else {
                    Status::Deleted
                },
                path,
            })
            .collect();
        let source = ChangeSource::Files {
            label: "--watch".into(),
            files,
        };
        // The configuration may be what changed (such a change also ends every
        // kept worker, which holds the old one: see `Traced::everything`).
        let current = match Settings::resolve(cli.clone()) {
            Ok(current) => current,
            Err(err) => {
                eprintln!("dbtest: error: {err}");
                continue;
            }
        };
        let code = run_once(
            &current,
            None,
            kept.as_mut(),
            &run_interrupted,
            Instant::now(),
            Some(source),
        );
        if let Some(code) = ctrl_c.leaving(code) {
            return Ok(code);
        }
    }
}

/// Ctrl-C under `--watch`. During a run the first one only asks to leave once
/// the run is over (its results are what the edit was made for); a second one
/// interrupts the run as Ctrl-C interrupts a plain run. Python reports each
/// SIGINT once, so the count is of presses.
struct CtrlC<'a> {
    interrupted: &'a dyn Fn() -> bool,
    leave_after_run: Cell<bool>,
}

impl<'a> CtrlC<'a> {
    fn new(interrupted: &'a dyn Fn() -> bool) -> CtrlC<'a> {
        CtrlC {
            interrupted,
            leave_after_run: Cell::new(false),
        }
    }

    /// What a run is told: whether to stop at once.
    fn during_run(&self) -> bool {
        if !(self.interrupted)() {
            return false;
        }
        if self.leave_after_run.replace(true) {
            return true;
        }
        say("stopping after this run; Ctrl-C again to interrupt it");
        false
    }

    /// After a run that ended with `code`: the exit code to leave with, if
    /// the watch is over.
    fn leaving(&self, code: i32) -> Option<i32> {
        if code == exit::INTERRUPTED {
            return Some(code);
        }
        if self.leave_after_run.get() {
            say("stopped (Ctrl-C)");
            return Some(exit::INTERRUPTED);
        }
        None
    }
}

/// One run; its errors (a usage error from a half-saved file...) are shown and
/// the watch goes on. Before it, the kept workers that imported what the
/// changes reach are ended.
fn run_once(
    settings: &Settings,
    fork_server: Option<ForkServer>,
    mut kept: Option<&mut Kept>,
    interrupted: &dyn Fn() -> bool,
    started: Instant,
    changes: Option<ChangeSource>,
) -> i32 {
    let outcome = pipeline::collect(settings).and_then(move |(collected, targets)| {
        let durations = crate::cache::duration_index(settings);
        let selection = pipeline::select(settings, &collected, targets, &durations, changes);
        let selection = match selection {
            Ok(selection) => selection,
            Err(err) => {
                // What the workers imported may be half-saved: start afresh.
                if let Some(kept) = kept.as_deref_mut() {
                    kept.workers.clear();
                }
                return Err(err);
            }
        };
        if let (Some(kept), Some(traced)) = (kept.as_deref_mut(), &selection.changed) {
            refresh_workers(&mut kept.workers, traced);
        }
        crate::execute::execute(
            settings,
            collected,
            &selection,
            durations,
            match kept {
                Some(kept) => Workers::Kept(kept),
                None => Workers::Fresh(fork_server),
            },
            interrupted,
            started,
        )
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            let _ = std::io::stdout().flush();
            eprintln!("dbtest: error: {err}");
            err.exit_code()
        }
    }
}

/// Ends the kept workers that imported a module the changes reach, and says
/// how many are reused.
fn refresh_workers(workers: &mut KeptWorkers, traced: &Traced) {
    if workers.is_empty() {
        return;
    }
    let refreshed = workers.retire_stale(&|file| traced.may_have_reached(file));
    let reused = dbtest_model::counted(refreshed.kept as u64, "worker", "workers");
    let line = match refreshed.ended {
        0 => format!("reusing {reused}"),
        ended => format!("reusing {reused}; {ended} ended (imported what changed)"),
    };
    say(&line);
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "dbtest --watch: {line}");
    let _ = out.flush();
}

fn header(round: usize, why: &str) {
    let title = format!(" dbtest --watch: run {round}: {why} ");
    let width = 78usize.saturating_sub(title.len()).max(6);
    let left = "=".repeat(width / 2);
    let right = "=".repeat(width - width / 2);
    let mut out = std::io::stdout();
    let _ = writeln!(out, "\n{left}{title}{right}");
    let _ = out.flush();
}

fn is_python(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
}

/// Editors' temporary and backup files (`x.py~`, `.x.py.swp`, vim's `4913`).
fn is_editor_scratch(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name == "4913"
        || name.starts_with(".#")
}

/// The project's files among those `event` names.
fn relevant(event: &notify::Event, bounds: &ProjectBounds) -> Vec<PathBuf> {
    if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
        return Vec::new();
    }
    event
        .paths
        .iter()
        .filter(|p| !p.is_dir() && !is_editor_scratch(p) && bounds.concerns(p))
        .cloned()
        .collect()
}

/// Every change already reported.
fn pending(events: &Receiver<notify::Event>, bounds: &ProjectBounds) -> BTreeSet<PathBuf> {
    events
        .try_iter()
        .flat_map(|e| relevant(&e, bounds))
        .collect()
}

/// Waits for a burst of changes to the project and returns its files (a
/// non-Python file that no longer exists was a temporary one, and is left
/// out); `None` on Ctrl-C.
fn wait_for_changes(
    events: &Receiver<notify::Event>,
    bounds: &ProjectBounds,
    interrupted: &dyn Fn() -> bool,
    mut paths: BTreeSet<PathBuf>,
) -> Option<Vec<PathBuf>> {
    let mut burst_started = (!paths.is_empty()).then(Instant::now);
    let mut last_change = Instant::now();
    loop {
        if interrupted() {
            return None;
        }
        let wait = if burst_started.is_some() {
            DEBOUNCE.min(POLL)
        } else {
            POLL
        };
        match events.recv_timeout(wait) {
            Ok(event) => {
                let found = relevant(&event, bounds);
                if !found.is_empty() {
                    paths.extend(found);
                    last_change = Instant::now();
                    burst_started.get_or_insert_with(Instant::now);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return None,
        }
        let Some(burst) = burst_started else { continue };
        if last_change.elapsed() >= DEBOUNCE || burst.elapsed() >= MAX_BURST {
            let kept: Vec<PathBuf> = paths
                .iter()
                .filter(|p| is_python(p) || p.exists())
                .cloned()
                .collect();
            if !kept.is_empty() {
                return Some(kept);
            }
            paths.clear();
            burst_started = None;
        }
    }
}
