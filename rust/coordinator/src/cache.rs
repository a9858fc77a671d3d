//! The cache directory (`.dbtest/` in the project root by default): recorded
//! durations, used to order work longest-first.
//!
//! The durations file itself (`durations.json`, `{"version": 1, "durations":
//! {"<test id>": seconds}}`) belongs to the `dbtest-durations` crate, which
//! `dbtest merge` shares; this module only knows where it lives.

use dbtest_model::TestResult;
use std::path::PathBuf;

pub use dbtest_durations::Durations;

const DURATIONS_FILE: &str = "durations.json";

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: PathBuf) -> Self {
        Cache { dir }
    }

    /// Recorded durations; an absent or unreadable file means none.
    pub fn durations(&self) -> Durations {
        Durations::read_or_default(&self.dir.join(DURATIONS_FILE))
    }

    /// Records the durations of tests that ran to a verdict.
    pub fn record(&self, mut durations: Durations, results: &[TestResult]) -> std::io::Result<()> {
        durations.record(results);
        self.ensure_dir()?;
        dbtest_durations::write_atomically(
            &self.dir.join(DURATIONS_FILE),
            durations.to_json().as_bytes(),
        )
    }

    fn ensure_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(ignore, "# created by dbtest\n*\n")?;
        }
        Ok(())
    }
}
