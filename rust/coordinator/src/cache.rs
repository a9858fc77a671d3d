//! The cache directory (`.dbtest/` in the project root by default): recorded
//! durations, used to order work longest-first.
//!
//! `durations.json` is `{"version": 1, "durations": {"<test id>": seconds}}`.
//! Entries of tests that did not run this time are kept.

use dbtest_model::{Outcome, TestResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DURATIONS_FILE: &str = "durations.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Durations {
    pub version: u32,
    pub durations: BTreeMap<String, f64>,
}

impl Durations {
    pub fn get(&self, id: &str) -> Option<f64> {
        self.durations.get(id).copied()
    }
}

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: PathBuf) -> Self {
        Cache { dir }
    }

    /// Recorded durations; an absent or unreadable file means none.
    pub fn durations(&self) -> Durations {
        std::fs::read(self.dir.join(DURATIONS_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Durations>(&bytes).ok())
            .filter(|d| d.version == FORMAT_VERSION)
            .unwrap_or_default()
    }

    /// Records the durations of tests that ran to a verdict.
    pub fn record(&self, mut durations: Durations, results: &[TestResult]) -> std::io::Result<()> {
        for result in results {
            if matches!(result.outcome, Outcome::Passed | Outcome::Failed) || result.duration > 0.0
            {
                durations
                    .durations
                    .insert(result.id.clone(), result.duration);
            }
        }
        durations.version = FORMAT_VERSION;
        self.ensure_dir()?;
        let text = serde_json::to_vec(&durations).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.join(DURATIONS_FILE), &text)
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

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
