//! Updating the durations file at the end of a run without holding it.
//!
//! [`Durations::record`](crate::Durations::record) on a file read whole keeps
//! every recorded id (a `String` in a `BTreeMap`) and the file's bytes at the
//! end of the run, when the run's results are all in memory too: on 100,000
//! tests that was ~14 MB of a coordinator's peak. [`record_file`] writes the
//! same bytes from the run's results (sorted references into them) and the
//! entries of the old file that this run did not replace, read entry by entry
//! from a buffered reader: only those (none when the whole suite ran) are kept.

use crate::{write_atomically_with, DurationsError, FORMAT_VERSION};
use dbtest_model::{is_duration, Outcome, TestResult};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::io::{BufReader, Write};
use std::path::Path;

/// Whether a result's duration is recorded: the rule of
/// [`Durations::record`](crate::Durations::record).
pub(crate) fn records(result: &TestResult) -> bool {
    (matches!(result.outcome, Outcome::Passed | Outcome::Failed) || result.duration > 0.0)
        && is_duration(result.duration)
}

/// Updates the durations file at `path` with `results` (as
/// [`Durations::record`](crate::Durations::record) on the file read with
/// `read_or_default`, then [`Durations::write`](crate::Durations::write), byte
/// for byte), keeping in memory only the old entries this run did not replace.
pub fn record_file(path: &Path, results: &[TestResult]) -> Result<(), DurationsError> {
    let ran = run_entries(results);
    let kept = kept_entries(path, &ran);
    let document = Document {
        ran: &ran,
        kept: &kept,
    };
    write_atomically_with(path, |out| {
        serde_json::to_writer_pretty(&mut *out, &document).map_err(std::io::Error::other)?;
        out.write_all(b"\n")
    })
    .map_err(|source| DurationsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// This run's recorded durations, sorted by id; of several results of one id
/// the last wins. Positions into `results` are sorted (4 bytes an entry, not a
/// copy of each id and duration).
fn run_entries(results: &[TestResult]) -> Ran<'_> {
    let mut order: Vec<u32> = (0..results.len())
        .rev()
        .filter(|&i| records(&results[i]))
        .filter_map(|i| u32::try_from(i).ok())
        .collect();
    let id = |i: u32| results[i as usize].id.as_str();
    // Stable: among equal ids the first (the last result, as reversed) is kept.
    order.sort_by(|&a, &b| id(a).cmp(id(b)));
    order.dedup_by(|later, earlier| id(*later) == id(*earlier));
    Ran { results, order }
}

/// This run's entries: positions into its results, in id order.
struct Ran<'a> {
    results: &'a [TestResult],
    order: Vec<u32>,
}

impl Ran<'_> {
    fn len(&self) -> usize {
        self.order.len()
    }

    fn entry(&self, n: usize) -> Option<(&str, f64)> {
        let result = &self.results[*self.order.get(n)? as usize];
        Some((result.id.as_str(), result.duration))
    }

    fn contains(&self, id: &str) -> bool {
        self.order
            .binary_search_by(|&i| self.results[i as usize].id.as_str().cmp(id))
            .is_ok()
    }
}

/// The entries of the old file whose ids `ran` does not hold. An absent,
/// unreadable, foreign or malformed file has none (the cache's rule).
fn kept_entries(path: &Path, ran: &Ran) -> Vec<(String, f64)> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let reader = BufReader::with_capacity(64 * 1024, file);
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let mut kept = match (OldFile { ran }).deserialize(&mut deserializer) {
        Ok(Some(kept)) if deserializer.end().is_ok() => kept,
        _ => return Vec::new(),
    };
    // Sorted by id; of an id written twice, the later entry wins (as in a map).
    kept.reverse();
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    kept.dedup_by(|later, earlier| later.0 == earlier.0);
    kept.retain(|(_, seconds)| is_duration(*seconds));
    kept
}

/// The old document, read as `{"version": 1, "durations": {...}}` in any key
/// order; `None` for another version.
struct OldFile<'a> {
    ran: &'a Ran<'a>,
}

impl<'de> DeserializeSeed<'de> for OldFile<'_> {
    type Value = Option<Vec<(String, f64)>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OldFile<'_> {
    type Value = Option<Vec<(String, f64)>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a durations document")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut version = None;
        let mut kept = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" => version = Some(map.next_value::<u32>()?),
                "durations" => kept = map.next_value_seed(Kept { ran: self.ran })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((version == Some(FORMAT_VERSION)).then_some(kept))
    }
}

/// The `durations` object: the entries whose ids did not run.
struct Kept<'a> {
    ran: &'a Ran<'a>,
}

impl<'de> DeserializeSeed<'de> for Kept<'_> {
    type Value = Vec<(String, f64)>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Kept<'_> {
    type Value = Vec<(String, f64)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of test ids to seconds")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = Vec::new();
        while let Some(id) = map.next_key_seed(UnlessRan { ran: self.ran })? {
            let seconds = map.next_value::<f64>()?;
            if let Some(id) = id {
                kept.push((id, seconds));
            }
        }
        Ok(kept)
    }
}

/// A key, allocated only when this run did not record its id.
struct UnlessRan<'a> {
    ran: &'a Ran<'a>,
}

impl<'de> DeserializeSeed<'de> for UnlessRan<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for UnlessRan<'_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a test id")
    }
    fn visit_str<E: serde::de::Error>(self, id: &str) -> Result<Self::Value, E> {
        Ok((!self.ran.contains(id)).then(|| id.to_string()))
    }
}

/// The document written: the merge of two sorted, disjoint lists of entries.
struct Document<'a> {
    ran: &'a Ran<'a>,
    kept: &'a [(String, f64)],
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            version: u32,
            durations: Entries<'a>,
        }
        View {
            version: FORMAT_VERSION,
            durations: Entries {
                ran: self.ran,
                kept: self.kept,
            },
        }
        .serialize(serializer)
    }
}

struct Entries<'a> {
    ran: &'a Ran<'a>,
    kept: &'a [(String, f64)],
}

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.ran.len() + self.kept.len()))?;
        let (mut next_ran, mut kept) = (0, self.kept.iter().peekable());
        loop {
            let entry = match (self.ran.entry(next_ran), kept.peek()) {
                (Some(ran), Some((id, _))) if ran.0.cmp(id.as_str()) == Ordering::Greater => {
                    kept.next().map(|(id, s)| (id.as_str(), *s))
                }
                (Some(ran), _) => {
                    next_ran += 1;
                    Some(ran)
                }
                (None, _) => kept.next().map(|(id, s)| (id.as_str(), *s)),
            };
            let Some((id, seconds)) = entry else { break };
            map.serialize_entry(id, &seconds)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Durations;
    use dbtest_model::Phase;

    fn result(id: &str, outcome: Outcome, duration: f64) -> TestResult {
        let mut result = TestResult::new(id, outcome, Phase::Call);
        result.duration = duration;
        result
    }

    fn results() -> Vec<TestResult> {
        vec![
            result("b.py::new", Outcome::Passed, 0.5),
            result("a.py::old", Outcome::Failed, 0.25),
            result("a.py::skipped", Outcome::Skipped, 0.0),
            result("c.py::crashed", Outcome::Error, 1.5),
            result("c.py::twice", Outcome::Passed, 1.0),
            result("c.py::twice", Outcome::Passed, 2.0),
            result("c.py::nan", Outcome::Passed, f64::NAN),
            result("a.py::\"quoted\"\\é", Outcome::Passed, 3e-6),
        ]
    }

    /// The file the whole-map way writes, beside the streaming one.
    fn both_ways(old: Option<&str>, results: &[TestResult]) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durations.json");
        if let Some(old) = old {
            std::fs::write(&path, old).unwrap();
        }
        let mut durations = Durations::read_or_default(&path);
        durations.record(results);
        let whole = durations.to_json();
        record_file(&path, results).unwrap();
        (whole, std::fs::read_to_string(&path).unwrap())
    }

    #[test]
    fn writes_what_recording_into_the_whole_file_writes() {
        let old = r#"{"durations": {"z.py::gone": 9.0, "a.py::old": 2.0, "a.py::skipped": 3.0,
            "c.py::twice": 7.0, "neg": -1, "dup": 1.0, "dup": 2.0, "gone": 1.0, "gone": -1}, "other": [1], "version": 1}"#;
        for old in [
            None,
            Some(old),
            Some(r#"{"version": 2, "durations": {"x": 1.0}}"#),
            Some("{ not json"),
            Some(r#"{"version": 1, "durations": {"x": 1.0}} trailing"#),
            Some(r#"{"version": 1}"#),
            Some(""),
        ] {
            let (whole, streamed) = both_ways(old, &results());
            assert_eq!(streamed, whole, "old file {old:?}");
        }
        let (whole, streamed) = both_ways(Some(r#"{"version": 1, "durations": {"q": 1}}"#), &[]);
        assert_eq!(streamed, whole);
        let (whole, streamed) = both_ways(None, &[]);
        assert_eq!(streamed, whole);
        assert!(whole.contains("\"durations\": {}"), "{whole}");
    }

    #[test]
    fn keeps_only_what_did_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durations.json");
        std::fs::write(
            &path,
            r#"{"version": 1, "durations": {"a": 1.0, "b": 2.0}}"#,
        )
        .unwrap();
        let results = [result("a", Outcome::Passed, 0.5)];
        let ran = run_entries(&results);
        assert_eq!(
            (ran.len(), ran.entry(0), ran.entry(1)),
            (1, Some(("a", 0.5)), None)
        );
        assert_eq!(kept_entries(&path, &ran), [("b".to_string(), 2.0)]);
        record_file(&path, &results).unwrap();
        let durations = Durations::read(&path).unwrap();
        assert_eq!(
            (durations.get("a"), durations.get("b")),
            (Some(0.5), Some(2.0))
        );
    }
}
