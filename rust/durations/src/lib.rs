//! The durations file: how long each test took when it last ran to a verdict.
//!
//! The coordinator reads it to dispatch longest-first and to shard by duration;
//! `dbtest merge` combines the files written by CI shards so that the next
//! pipeline shards on the whole suite's timings. Because a `--shard K/N`
//! partition is a pure function of the selected ids *and this file*, every shard
//! of one pipeline must read the same file; the format is therefore plain,
//! sorted, pretty-printed JSON that diffs well when committed:
//!
//! ```json
//! {
//!   "version": 1,
//!   "durations": {
//!     "tests/test_a.py::test_x": 0.0123
//!   }
//! }
//! ```
//!
//! See `docs/durations.md` for the full description.

mod index;
mod update;

pub use index::DurationIndex;
pub use update::record_file;

use dbtest_model::{is_duration, TestResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The only format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Why a durations document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a durations file: {0}")]
    Json(String),
    #[error(
        "unsupported durations format version {0} (this dbtest reads version {FORMAT_VERSION})"
    )]
    Version(u32),
}

/// A durations file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DurationsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid { path: PathBuf, source: ParseError },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Recorded durations in seconds, keyed by test id.
///
/// A `BTreeMap` so that the written file is sorted and byte-identical for the
/// same content, whichever order the results arrived in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    pub version: u32,
    #[serde(default)]
    pub durations: BTreeMap<String, f64>,
}

impl Default for Durations {
    fn default() -> Self {
        Durations {
            version: FORMAT_VERSION,
            durations: BTreeMap::new(),
        }
    }
}

impl Durations {
    pub fn new() -> Self {
        Durations::default()
    }

    /// The recorded duration of `id`, if any.
    pub fn get(&self, id: &str) -> Option<f64> {
        self.durations.get(id).copied()
    }

    pub fn len(&self) -> usize {
        self.durations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.durations.is_empty()
    }

    /// Records `seconds` for `id`, replacing what was there. Unusable numbers
    /// are ignored.
    pub fn insert(&mut self, id: impl Into<String>, seconds: f64) {
        if is_duration(seconds) {
            self.durations.insert(id.into(), seconds);
        }
    }

    /// Records the durations of tests that ran to a verdict. A test that was
    /// skipped or errored before it ran (duration 0) keeps its earlier entry,
    /// so one bad run does not erase what longest-first dispatch relies on.
    /// Entries of tests that did not run this time are kept.
    pub fn record(&mut self, results: &[TestResult]) {
        for result in results.iter().filter(|r| update::records(r)) {
            self.insert(result.id.clone(), result.duration);
        }
        self.version = FORMAT_VERSION;
    }

    /// Combines several files into one. Shards record disjoint tests, so
    /// overlaps are rare (a file from an earlier pipeline, say); when an id
    /// appears in several files the one given last wins, so that
    /// `merge [old, new]` updates `old`.
    pub fn merge(files: impl IntoIterator<Item = Durations>) -> Durations {
        let mut merged = Durations::new();
        for file in files {
            for (id, seconds) in file.durations {
                merged.insert(id, seconds);
            }
        }
        merged
    }

    /// Parses a durations document, rejecting other format versions.
    pub fn from_slice(bytes: &[u8]) -> Result<Durations, ParseError> {
        check_version(bytes)?;
        let mut durations: Durations =
            serde_json::from_slice(bytes).map_err(|e| ParseError::Json(e.to_string()))?;
        durations
            .durations
            .retain(|_, seconds| is_duration(*seconds));
        Ok(durations)
    }

    /// The document as written to disk: sorted, pretty-printed, newline-terminated.
    pub fn to_json(&self) -> String {
        // Serializing a map of strings to finite floats cannot fail.
        let mut text = serde_json::to_string_pretty(&self.view()).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The document to serialize, borrowing the map (a large suite's map is
    /// megabytes: never copy it just to write it).
    fn view(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        struct View<'a> {
            version: u32,
            durations: &'a BTreeMap<String, f64>,
        }
        View {
            version: FORMAT_VERSION,
            durations: &self.durations,
        }
    }

    /// Reads a durations file.
    pub fn read(path: &Path) -> Result<Durations, DurationsError> {
        let bytes = std::fs::read(path).map_err(|source| DurationsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Durations::from_slice(&bytes).map_err(|source| DurationsError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a durations file where having none is normal (the cache): an
    /// absent, unreadable or foreign file means no recorded durations.
    pub fn read_or_default(path: &Path) -> Durations {
        Durations::read(path).unwrap_or_default()
    }

    /// Writes the file atomically: readers (another shard, a concurrent run)
    /// see the old file or the new one, never half of one.
    /// Writes the file atomically, streaming it rather than building it in memory.
    pub fn write(&self, path: &Path) -> Result<(), DurationsError> {
        write_atomically_with(path, |out| {
            serde_json::to_writer_pretty(&mut *out, &self.view()).map_err(std::io::Error::other)?;
            out.write_all(b"\n")
        })
        .map_err(|source| DurationsError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Rejects documents of another format version, before looking at their shape
/// (so that a future format is reported as "unsupported version", not as a
/// parse error).
pub(crate) fn check_version(bytes: &[u8]) -> Result<(), ParseError> {
    #[derive(Deserialize)]
    struct Versioned {
        version: u32,
    }
    let versioned: Versioned =
        serde_json::from_slice(bytes).map_err(|e| ParseError::Json(e.to_string()))?;
    if versioned.version != FORMAT_VERSION {
        return Err(ParseError::Version(versioned.version));
    }
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over
/// `path`. The temporary name carries the process id so that concurrent runs
/// sharing a cache directory do not write into each other's file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |out| out.write_all(bytes))
}

/// Writes `path` through a temporary file in the same directory and a rename,
/// so readers never see a partial file.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        write(&mut out)?;
        out.flush()
    });
    if let Err(err) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbtest_model::{Outcome, Phase};

    fn result(id: &str, outcome: Outcome, duration: f64) -> TestResult {
        let mut result = TestResult::new(id, outcome, Phase::Call);
        result.duration = duration;
        result.worker = 1;
        result
    }

    #[test]
    fn record_keeps_old_entries_and_ignores_unrun_tests() {
        let mut durations = Durations::new();
        durations.insert("a.py::old", 2.0);
        durations.insert("a.py::skipped", 3.0);
        durations.record(&[
            result("a.py::new", Outcome::Passed, 0.5),
            result("a.py::fail", Outcome::Failed, 0.25),
            result("a.py::skipped", Outcome::Skipped, 0.0),
            result("a.py::crashed", Outcome::Error, 1.5),
        ]);
        assert_eq!(durations.get("a.py::old"), Some(2.0));
        assert_eq!(durations.get("a.py::new"), Some(0.5));
        assert_eq!(durations.get("a.py::fail"), Some(0.25));
        assert_eq!(durations.get("a.py::skipped"), Some(3.0));
        assert_eq!(durations.get("a.py::crashed"), Some(1.5));
    }

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durations.json");
        let mut durations = Durations::new();
        durations.insert("b.py::t", 0.125);
        durations.insert("a.py::t", 1.0);
        durations.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n  \"version\": 1,"), "{text}");
        assert!(text.find("a.py::t").unwrap() < text.find("b.py::t").unwrap());
        assert_eq!(Durations::read(&path).unwrap(), durations);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn reads_the_compact_format_older_runs_wrote() {
        let durations =
            Durations::from_slice(br#"{"version":1,"durations":{"a.py::t":0.5}}"#).unwrap();
        assert_eq!(durations.get("a.py::t"), Some(0.5));
    }

    #[test]
    fn rejects_other_versions_and_garbage() {
        let err = Durations::from_slice(br#"{"version":2,"whatever":[]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported durations format version 2 (this dbtest reads version 1)"
        );
        assert!(matches!(
            Durations::from_slice(b"[1, 2]"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            Durations::from_slice(br#"{"version":1,"durations":{"a":"slow"}}"#),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn drops_unusable_numbers() {
        let durations =
            Durations::from_slice(br#"{"version":1,"durations":{"a":-1.0,"b":2.0}}"#).unwrap();
        assert_eq!(durations.get("a"), None);
        assert_eq!(durations.get("b"), Some(2.0));
        let mut durations = Durations::new();
        durations.insert("nan", f64::NAN);
        assert!(durations.is_empty());
    }

    #[test]
    fn read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        let err = Durations::read(&path).unwrap_err();
        assert!(err.to_string().starts_with("cannot read "), "{err}");
        std::fs::write(&path, "{").unwrap();
        let err = Durations::read(&path).unwrap_err();
        assert!(
            err.to_string().contains("d.json: not a durations file"),
            "{err}"
        );
        assert!(Durations::read_or_default(&path).is_empty());
    }

    #[test]
    fn merge_later_files_win() {
        let mut first = Durations::new();
        first.insert("a", 1.0);
        first.insert("shared", 1.0);
        let mut second = Durations::new();
        second.insert("b", 2.0);
        second.insert("shared", 2.0);
        let merged = Durations::merge([first, second]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged.get("a"), Some(1.0));
        assert_eq!(merged.get("b"), Some(2.0));
        assert_eq!(merged.get("shared"), Some(2.0));
    }

    #[test]
    fn write_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("d.json");
        let err = Durations::new().write(&path).unwrap_err();
        assert!(err.to_string().starts_with("cannot write "), "{err}");
    }

    #[test]
    fn the_index_answers_for_ids_it_never_keeps() {
        let text = r#"{"version": 1, "durations": {"a.py::t": 1.5, "b.py::t[\"x\"]": 0.25, "c.py::neg": -1}}"#;
        let index = DurationIndex::from_slice(text.as_bytes()).unwrap();
        assert_eq!(index.get("a.py::t"), Some(1.5));
        assert_eq!(
            index.get("b.py::t[\"x\"]"),
            Some(0.25),
            "escaped keys hash as their text"
        );
        assert_eq!(index.get("c.py::neg"), None, "unusable numbers are dropped");
        assert_eq!(index.get("d.py::t"), None);
    }

    #[test]
    fn the_index_rejects_other_versions_and_shapes() {
        assert!(matches!(
            DurationIndex::from_slice(br#"{"version": 2, "durations": []}"#),
            Err(ParseError::Version(2))
        ));
        assert!(DurationIndex::from_slice(br#"{"version": 1, "durations": []}"#).is_err());
        assert!(DurationIndex::from_slice(br#"{"version": 1}"#)
            .unwrap()
            .is_empty());
    }
}
