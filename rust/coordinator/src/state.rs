//! What a run leaves for the next one in the cache directory, besides durations:
//!
//! - `journal.jsonl`: one JSON line per result, appended as results arrive, between
//!   a `{"run": ...}` line and an `{"end": ...}` line. A journal without its end
//!   line is an interrupted (or killed) run; its results still count for `--lf`.
//! - `lastfailed.json`: `{"version": 1, "failed": [ids]}`, the tests whose last
//!   recorded outcome failed the run.

use crate::cache::ensure_cache_dir;
use dbtest_durations::write_atomically;
use dbtest_model::TestResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const JOURNAL: &str = "journal.jsonl";
const LAST_FAILED: &str = "lastfailed.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct LastFailedFile {
    version: u32,
    failed: BTreeSet<String>,
}

#[derive(Serialize, Deserialize)]
struct JournalEntry {
    id: String,
    outcome: dbtest_model::Outcome,
    duration: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
}

/// The failing set as of the end of the previous run (including an interrupted
/// one, through its journal).
pub fn last_failed(dir: &Path) -> BTreeSet<String> {
    let mut failed = std::fs::read(dir.join(LAST_FAILED))
        .ok()
        .and_then(|b| serde_json::from_slice::<LastFailedFile>(&b).ok())
        .map(|f| f.failed)
        .unwrap_or_default();
    if let Some(entries) = unfinished_journal(&dir.join(JOURNAL)) {
        apply_all(
            &mut failed,
            entries
                .iter()
                .map(|e| (e.id.as_str(), e.parent.as_deref(), e.outcome)),
        );
    }
    failed
}

/// Applies (id, parent, outcome) results in two passes: tests first, then failed
/// `subTest` blocks, which mark their test failed even though it "passed".
fn apply_all<'a>(
    failed: &mut BTreeSet<String>,
    results: impl Iterator<Item = (&'a str, Option<&'a str>, dbtest_model::Outcome)> + Clone,
) {
    for (id, parent, outcome) in results.clone() {
        if parent.is_none() {
            if outcome.fails_run() {
                failed.insert(id.to_string());
            } else {
                failed.remove(id);
            }
        }
    }
    for (_, parent, outcome) in results {
        if let (Some(parent), true) = (parent, outcome.fails_run()) {
            failed.insert(parent.to_string());
        }
    }
}

/// The results of a journal that never got its end line.
fn unfinished_journal(path: &Path) -> Option<Vec<JournalEntry>> {
    let mut file = File::open(path).ok()?;
    // Most journals are finished: their last line says so, and reading the
    // rest (a line per test) would only be thrown away.
    if ends_finished(&mut file) {
        return None;
    }
    file.seek(SeekFrom::Start(0)).ok()?;
    let mut entries = Vec::new();
    let mut ended = false;
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        if line.starts_with("{\"end\"") {
            ended = true;
        } else if let Ok(entry) = serde_json::from_str::<JournalEntry>(&line) {
            entries.push(entry);
        }
    }
    (!ended).then_some(entries)
}

/// Whether the journal's last line is its end line.
fn ends_finished(file: &mut File) -> bool {
    const TAIL: u64 = 64;
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return false;
    };
    let mut tail = Vec::new();
    let read = file
        .seek(SeekFrom::Start(len.saturating_sub(TAIL)))
        .and_then(|_| file.read_to_end(&mut tail));
    if read.is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&tail);
    let last = text.trim_end().rsplit('\n').next().unwrap_or("");
    last.starts_with("{\"end\"")
}

/// Updates `lastfailed.json` from a finished (or interrupted) run's results.
pub fn record_last_failed(
    dir: &Path,
    previous: BTreeSet<String>,
    results: &[TestResult],
) -> std::io::Result<()> {
    let mut failed = previous;
    apply_all(
        &mut failed,
        results
            .iter()
            .map(|r| (r.id.as_str(), r.parent.as_deref(), r.outcome)),
    );
    ensure_cache_dir(dir)?;
    let file = LastFailedFile { version: 1, failed };
    let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    write_atomically(&dir.join(LAST_FAILED), &bytes)
}

/// Appends results as they arrive; flushed by the caller between event batches.
pub struct Journal {
    out: BufWriter<File>,
    path: PathBuf,
}

impl Journal {
    pub fn start(dir: &Path, tests: usize) -> std::io::Result<Journal> {
        ensure_cache_dir(dir)?;
        let path = dir.join(JOURNAL);
        let mut out = BufWriter::new(File::create(&path)?);
        writeln!(
            out,
            "{}",
            serde_json::json!({"run": {"pid": std::process::id(), "tests": tests}})
        )?;
        out.flush()?;
        Ok(Journal { out, path })
    }

    pub fn append(&mut self, result: &TestResult) -> std::io::Result<()> {
        let entry = JournalEntry {
            id: result.id.clone(),
            outcome: result.outcome,
            duration: result.duration,
            parent: result.parent.clone(),
        };
        serde_json::to_writer(&mut self.out, &entry).map_err(std::io::Error::other)?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Marks the run complete (an interrupted run ends too: its results are final).
    pub fn finish(mut self) -> std::io::Result<()> {
        writeln!(self.out, "{}", serde_json::json!({"end": true}))?;
        self.out.flush()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbtest_model::{Outcome, Phase};

    fn result(id: &str, outcome: Outcome) -> TestResult {
        TestResult::new(id, outcome, Phase::Call)
    }

    #[test]
    fn last_failed_follows_the_latest_outcome_of_each_test() {
        let tmp = tempfile::tempdir().unwrap();
        record_last_failed(
            tmp.path(),
            BTreeSet::new(),
            &[
                result("a", Outcome::Failed),
                result("b", Outcome::Error),
                result("c", Outcome::Passed),
            ],
        )
        .unwrap();
        let previous = last_failed(tmp.path());
        assert_eq!(previous.iter().collect::<Vec<_>>(), ["a", "b"]);
        record_last_failed(tmp.path(), previous, &[result("a", Outcome::Passed)]).unwrap();
        assert_eq!(last_failed(tmp.path()).iter().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn a_failed_subtest_marks_its_passing_test_failed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut sub = result("t::T::test_x (i=2)", Outcome::Failed);
        sub.parent = Some("t::T::test_x".into());
        record_last_failed(
            tmp.path(),
            BTreeSet::new(),
            &[sub, result("t::T::test_x", Outcome::Passed)],
        )
        .unwrap();
        assert_eq!(
            last_failed(tmp.path()).iter().collect::<Vec<_>>(),
            ["t::T::test_x"]
        );
    }

    #[test]
    fn an_unfinished_journal_still_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let mut journal = Journal::start(tmp.path(), 2).unwrap();
        journal.append(&result("x", Outcome::Failed)).unwrap();
        journal.flush().unwrap();
        drop(journal); // killed before `finish`
        assert!(last_failed(tmp.path()).contains("x"));

        let mut journal = Journal::start(tmp.path(), 1).unwrap();
        journal.append(&result("y", Outcome::Failed)).unwrap();
        journal.finish().unwrap();
        assert!(
            !last_failed(tmp.path()).contains("y"),
            "a finished run speaks through lastfailed.json"
        );
    }

    #[test]
    fn a_finished_journal_is_known_by_its_last_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(JOURNAL);
        let mut journal = Journal::start(tmp.path(), 3).unwrap();
        for id in ["a", "b", "c"] {
            journal.append(&result(id, Outcome::Failed)).unwrap();
        }
        journal.finish().unwrap();
        assert!(ends_finished(&mut File::open(&path).unwrap()));
        assert!(unfinished_journal(&path).is_none());
        // An end line before the last line is found by reading the whole journal.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"id\":\"d\",\"outcome\":\"failed\",\"duration\":0.0}\n");
        std::fs::write(&path, text).unwrap();
        assert!(!ends_finished(&mut File::open(&path).unwrap()));
        assert!(unfinished_journal(&path).is_none());
        std::fs::write(&path, "").unwrap();
        assert_eq!(unfinished_journal(&path).map(|e| e.len()), Some(0));
    }
}
