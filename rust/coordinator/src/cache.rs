//! The cache directory (`.dbtest/` in the project root by default): recorded
//! durations, used to order work longest-first.
//!
//! The durations file itself (`durations.json`, `{"version": 1, "durations":
//! {"<test id>": seconds}}`) belongs to the `dbtest-durations` crate, which
//! `dbtest merge` shares; this module only knows where it lives.

use dbtest_config::Settings;
use dbtest_model::TestResult;
use std::path::{Path, PathBuf};

pub use dbtest_durations::DurationIndex;

const DURATIONS_FILE: &str = "durations.json";

/// Recorded durations of the project, for lookups (none under `--no-cache`).
pub fn duration_index(settings: &Settings) -> DurationIndex {
    settings
        .cache_dir
        .as_ref()
        .map(|dir| DurationIndex::read_or_default(&dir.join(DURATIONS_FILE)))
        .unwrap_or_default()
}

/// Creates the cache directory with a `.gitignore` that keeps it out of version control.
pub fn ensure_cache_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(ignore, "# created by dbtest\n*\n")?;
    }
    Ok(())
}

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: PathBuf) -> Self {
        Cache { dir }
    }

    /// Records the durations of tests that ran to a verdict, keeping those
    /// of the file's other tests. The file is read entry by entry, never whole:
    /// at the end of a run every result is in memory already.
    pub fn record(&self, results: &[TestResult]) -> std::io::Result<()> {
        ensure_cache_dir(&self.dir)?;
        dbtest_durations::record_file(&self.dir.join(DURATIONS_FILE), results)
            .map_err(std::io::Error::other)
    }
}
