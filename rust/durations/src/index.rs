//! The recorded durations a run looks tests up in, by a hash of their ids.

use crate::{check_version, ParseError, FORMAT_VERSION};
use dbtest_model::{fnv1a64, is_duration};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::BufReader;
use std::path::Path;

/// A durations document, its ids hashed as they are read.
#[derive(Deserialize)]
struct Document {
    version: u32,
    #[serde(default)]
    durations: HashedDurations,
}

/// Recorded durations for looking up tests during a run, keyed by a 64-bit
/// hash of the id ([`fnv1a64`]) rather than the id itself: a large suite's
/// file holds tens of thousands of ids, and a run already holds each of them
/// once. (Two ids sharing a hash would share a duration estimate, nothing more.)
#[derive(Debug, Clone, Default)]
pub struct DurationIndex {
    seconds: HashMap<u64, f64>,
}

impl DurationIndex {
    pub fn get(&self, id: &str) -> Option<f64> {
        self.seconds.get(&fnv1a64(id.as_bytes())).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.seconds.is_empty()
    }

    /// Parses a durations document without keeping its ids.
    pub fn from_slice(bytes: &[u8]) -> Result<DurationIndex, ParseError> {
        check_version(bytes)?;
        let document: Document =
            serde_json::from_slice(bytes).map_err(|e| ParseError::Json(e.to_string()))?;
        Ok(DurationIndex {
            seconds: document.durations.0,
        })
    }

    /// The index of a durations file where having none is normal (the cache):
    /// an absent, unreadable, foreign or malformed file gives an empty index.
    /// Read through a buffer, never whole: the file of a large suite is
    /// megabytes, and memory taken at the start of a run stays taken.
    pub fn read_or_default(path: &Path) -> DurationIndex {
        let Ok(file) = std::fs::File::open(path) else {
            return DurationIndex::default();
        };
        let mut reader =
            serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, file));
        match Document::deserialize(&mut reader) {
            Ok(document) if document.version == FORMAT_VERSION && reader.end().is_ok() => {
                DurationIndex {
                    seconds: document.durations.0,
                }
            }
            _ => DurationIndex::default(),
        }
    }
}

/// The `durations` object, read entry by entry into hashes.
#[derive(Default)]
struct HashedDurations(HashMap<u64, f64>);

impl<'de> Deserialize<'de> for HashedDurations {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = HashedDurations;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of test ids to seconds")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut seconds = HashMap::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((IdHash(id), value)) = map.next_entry::<IdHash, f64>()? {
                    if is_duration(value) {
                        seconds.insert(id, value);
                    }
                }
                Ok(HashedDurations(seconds))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A map key read as the hash of its text, without allocating the text when
/// it has no escapes.
struct IdHash(u64);

impl<'de> Deserialize<'de> for IdHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Key;
        impl serde::de::Visitor<'_> for Key {
            type Value = IdHash;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a test id")
            }
            fn visit_str<E: serde::de::Error>(self, id: &str) -> Result<IdHash, E> {
                Ok(IdHash(fnv1a64(id.as_bytes())))
            }
        }
        deserializer.deserialize_str(Key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_through_a_buffer_with_the_rules_of_a_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durations.json");
        assert!(DurationIndex::read_or_default(&path).is_empty(), "no file");
        let text =
            r#"{"durations": {"a.py::t": 1.5, "b.py::t[\"x\"]": 0.25, "n": -1}, "version": 1}"#;
        std::fs::write(&path, text).unwrap();
        let index = DurationIndex::read_or_default(&path);
        assert_eq!(index.get("a.py::t"), Some(1.5));
        assert_eq!(index.get("b.py::t[\"x\"]"), Some(0.25));
        assert_eq!(index.get("n"), None);
        for bad in [
            r#"{"version": 2, "durations": {"a": 1.0}}"#,
            r#"{"version": 1, "durations": {"a": 1.0}} trailing"#,
            r#"{"durations": {"a": 1.0}}"#,
            "[1]",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(DurationIndex::read_or_default(&path).is_empty(), "{bad}");
        }
    }
}
