//! `[tool.dbtest]` in the project's `pyproject.toml`: read key by key, so that
//! every mistake is reported as `FILE:LINE: KEY must be WHAT IS ALLOWED, not
//! VALUE`, in words rather than in the parser's types.

use crate::{parse_size, ConfigError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Spanned, Value};

/// `[tool.dbtest]`, checked.
#[derive(Debug, Clone, Default)]
pub struct FileConfig {
    pub paths: Option<Vec<String>>,
    pub test_patterns: Option<Vec<String>>,
    pub bench_patterns: Option<Vec<String>>,
    pub jobs: Option<usize>,
    pub timeout: Option<f64>,
    pub cache_dir: Option<PathBuf>,
    pub max_worker_restart: Option<usize>,
    pub retries: Option<u32>,
    pub flaky_result: Option<FlakyResult>,
    pub max_tests_per_worker: Option<usize>,
    /// In bytes.
    pub max_worker_rss: Option<u64>,
    pub shard_mode: Option<String>,
    /// Report files, relative to the project root.
    pub junit_xml: Option<PathBuf>,
    pub json_report: Option<PathBuf>,
    pub markdown_report: Option<PathBuf>,
    /// Import every selected test module before any test runs (pytest's way).
    pub import_all: Option<bool>,
    /// Failures rerun alone in a fresh worker, at most (0: none).
    pub rerun_alone: Option<usize>,
    /// Directories the project's imports resolve against, relative to the
    /// project root (`--changed`'s import graph), before those found.
    pub source_roots: Option<Vec<String>>,
}

/// What a flaky test (failed, then passed on a retry) does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlakyResult {
    Pass,
    Fail,
}

/// The keys `[tool.dbtest]` takes, in the order the documentation gives them.
pub const KEYS: [&str; 18] = [
    "paths",
    "test-patterns",
    "bench-patterns",
    "jobs",
    "timeout",
    "cache-dir",
    "max-worker-restart",
    "retries",
    "flaky-result",
    "max-tests-per-worker",
    "max-worker-rss",
    "shard-mode",
    "junit-xml",
    "json-report",
    "markdown-report",
    "import-all",
    "rerun-alone",
    "source-roots",
];

/// The values `shard-mode` (and `--shard-mode`) takes.
pub const SHARD_MODES: [&str; 3] = ["duration", "hash", "slice"];

type Table = BTreeMap<Spanned<String>, Spanned<Value>>;

#[derive(serde::Deserialize)]
struct PyProject {
    tool: Option<Tools>,
}

#[derive(serde::Deserialize)]
struct Tools {
    dbtest: Option<Table>,
}

/// Reads `[tool.dbtest]` from `pyproject`, if the file has that table.
pub fn load_file_config(pyproject: &Path) -> Result<Option<FileConfig>, ConfigError> {
    let text = std::fs::read_to_string(pyproject).map_err(|e| ConfigError::File {
        path: pyproject.display().to_string(),
        message: e.to_string(),
    })?;
    let at = |offset: usize| {
        let line = text[..offset.min(text.len())].matches('\n').count() + 1;
        format!("{}:{line}", pyproject.display())
    };
    let document = toml::from_str::<PyProject>(&text).map_err(|err| {
        let message = err.message().trim().to_string();
        match err.span() {
            Some(span) => {
                let line = text[..span.start].matches('\n').count() + 1;
                let quoted = text.lines().nth(line - 1).unwrap_or("").trim();
                ConfigError::File {
                    path: at(span.start),
                    message: format!("not valid TOML: {message} (`{quoted}`)"),
                }
            }
            None => ConfigError::File {
                path: pyproject.display().to_string(),
                message: format!("not valid TOML: {message}"),
            },
        }
    })?;
    let Some(table) = document.tool.and_then(|t| t.dbtest) else {
        return Ok(None);
    };
    let mut config = FileConfig::default();
    for (key, value) in &table {
        check(&mut config, key.get_ref(), value.get_ref()).map_err(|message| {
            ConfigError::File {
                path: at(key.span().start),
                message,
            }
        })?;
    }
    Ok(Some(config))
}

/// Sets `key` from `value`, or says what the key takes.
fn check(config: &mut FileConfig, key: &str, value: &Value) -> Result<(), String> {
    let wrong = |allowed: &str| format!("{key} must be {allowed}, not {}", shown(value));
    match key {
        "source-roots" => {
            config.source_roots = Some(
                strings(value).ok_or_else(|| wrong("a list of directories, such as [\"src\"]"))?,
            )
        }
        "paths" | "test-patterns" | "bench-patterns" => {
            let list = strings(value).ok_or_else(|| {
                let example = if key == "paths" {
                    "\"tests\""
                } else {
                    "\"test_*.py\""
                };
                wrong(&format!("a list of strings, such as [{example}]"))
            })?;
            match key {
                "paths" => config.paths = Some(list),
                "test-patterns" => config.test_patterns = Some(list),
                _ => config.bench_patterns = Some(list),
            }
        }
        "jobs" => {
            config.jobs = Some(
                whole(value, 1).ok_or_else(|| wrong("a whole number of workers, at least 1"))?,
            )
        }
        "max-tests-per-worker" => {
            config.max_tests_per_worker =
                Some(whole(value, 1).ok_or_else(|| wrong("a whole number of tests, at least 1"))?)
        }
        "rerun-alone" => {
            config.rerun_alone = Some(
                whole(value, 0).ok_or_else(|| wrong("a whole number of failures, 0 or more"))?,
            )
        }
        "import-all" => {
            config.import_all = Some(value.as_bool().ok_or_else(|| wrong("true or false"))?)
        }
        "max-worker-restart" => {
            config.max_worker_restart =
                Some(whole(value, 0).ok_or_else(|| wrong("a whole number, 0 or more"))?)
        }
        "retries" => {
            config.retries = Some(
                whole(value, 0)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| wrong("a whole number of reruns, 0 or more"))?,
            )
        }
        "timeout" => {
            let seconds = match value {
                Value::Integer(n) => Some(*n as f64),
                Value::Float(x) => Some(*x),
                _ => None,
            };
            config.timeout = Some(
                seconds
                    .filter(|s| *s > 0.0 && s.is_finite())
                    .ok_or_else(|| {
                        wrong("a number of seconds greater than 0, such as 30 or 2.5")
                    })?,
            )
        }
        "max-worker-rss" => {
            let bytes = match value {
                Value::String(text) => parse_size(text).ok(),
                Value::Integer(n) => u64::try_from(*n).ok().filter(|n| *n > 0),
                _ => None,
            };
            config.max_worker_rss = Some(bytes.ok_or_else(|| {
                wrong("a size such as \"512M\" or \"2G\" (K, M, G: binary multiples), or a number of bytes")
            })?)
        }
        "shard-mode" => {
            let mode = value
                .as_str()
                .filter(|mode| SHARD_MODES.contains(mode))
                .ok_or_else(|| wrong("\"duration\", \"hash\" or \"slice\""))?;
            config.shard_mode = Some(mode.to_string());
        }
        "flaky-result" => {
            config.flaky_result = Some(match value.as_str() {
                Some("pass") => FlakyResult::Pass,
                Some("fail") => FlakyResult::Fail,
                _ => return Err(wrong("\"pass\" or \"fail\"")),
            })
        }
        "cache-dir" | "junit-xml" | "json-report" | "markdown-report" => {
            let path = value
                .as_str()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| wrong("a path (a string, relative to the project root)"))?;
            match key {
                "cache-dir" => config.cache_dir = Some(path),
                "junit-xml" => config.junit_xml = Some(path),
                "json-report" => config.json_report = Some(path),
                _ => config.markdown_report = Some(path),
            }
        }
        unknown => return Err(unknown_key(unknown)),
    }
    Ok(())
}

fn unknown_key(key: &str) -> String {
    let close = KEYS
        .iter()
        .filter(|known| edit_distance(key, known) <= 2)
        .min_by_key(|known| edit_distance(key, known));
    let hint = close.map_or_else(String::new, |known| format!(" (did you mean {known}?)"));
    format!(
        "unknown key {key}{hint}; [tool.dbtest] takes {}",
        KEYS.join(", ")
    )
}

fn whole(value: &Value, minimum: i64) -> Option<usize> {
    match value {
        Value::Integer(n) if *n >= minimum => usize::try_from(*n).ok(),
        _ => None,
    }
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect()
}

/// A value as TOML writes it (`"many"`, `-5`, `[1, 2]`), kept short.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::Table(_) => "a table".to_string(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Levenshtein distance, for "did you mean" (the keys are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_for(body: &str) -> String {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pyproject.toml");
        std::fs::write(
            &path,
            format!("[project]\nname = \"x\"\n\n[tool.dbtest]\n{body}\n"),
        )
        .unwrap();
        let err = load_file_config(&path).unwrap_err().to_string();
        let prefix = format!("{}:5: ", path.display());
        err.strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{err:?} does not start with {prefix:?}"))
            .to_string()
    }

    #[test]
    fn every_mistake_names_file_line_key_and_what_is_allowed() {
        let cases = [
            (
                "jobs = 0",
                "jobs must be a whole number of workers, at least 1, not 0",
            ),
            (
                "jobs = \"many\"",
                "jobs must be a whole number of workers, at least 1, not \"many\"",
            ),
            (
                "jobs = 3.5",
                "jobs must be a whole number of workers, at least 1, not 3.5",
            ),
            (
                "timeout = -5",
                "timeout must be a number of seconds greater than 0, such as 30 or 2.5, not -5",
            ),
            (
                "retries = 1.5",
                "retries must be a whole number of reruns, 0 or more, not 1.5",
            ),
            (
                "max-worker-restart = -1",
                "max-worker-restart must be a whole number, 0 or more, not -1",
            ),
            (
                "max-tests-per-worker = 0",
                "max-tests-per-worker must be a whole number of tests, at least 1, not 0",
            ),
            (
                "shard-mode = \"bogus\"",
                "shard-mode must be \"duration\", \"hash\" or \"slice\", not \"bogus\"",
            ),
            (
                "flaky-result = \"maybe\"",
                "flaky-result must be \"pass\" or \"fail\", not \"maybe\"",
            ),
            (
                "paths = \"tests\"",
                "paths must be a list of strings, such as [\"tests\"], not \"tests\"",
            ),
            (
                "junit-xml = 3",
                "junit-xml must be a path (a string, relative to the project root), not 3",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(error_for(body), expected, "{body}");
        }
        assert!(error_for("max-worker-rss = \"lots\"")
            .starts_with("max-worker-rss must be a size such as \"512M\""));
        let unknown = error_for("jbos = 3");
        assert!(
            unknown
                .starts_with("unknown key jbos (did you mean jobs?); [tool.dbtest] takes paths,"),
            "{unknown}"
        );
        for message in cases.iter().map(|(body, _)| error_for(body)) {
            assert!(
                !message.contains("usize") && !message.contains("f64") && !message.contains("u32")
            );
        }
    }

    #[test]
    fn good_values_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pyproject.toml");
        std::fs::write(
            &path,
            "[tool.dbtest]\njobs = 3\ntimeout = 2\nmax-worker-rss = \"1G\"\nshard-mode = \"hash\"\nflaky-result = \"fail\"\npaths = [\"tests\"]\n",
        )
        .unwrap();
        let config = load_file_config(&path).unwrap().unwrap();
        assert_eq!(config.jobs, Some(3));
        assert_eq!(config.timeout, Some(2.0));
        assert_eq!(config.max_worker_rss, Some(1 << 30));
        assert_eq!(config.shard_mode.as_deref(), Some("hash"));
        assert_eq!(config.flaky_result, Some(FlakyResult::Fail));
        assert_eq!(config.paths, Some(vec!["tests".to_string()]));
    }

    #[test]
    fn a_file_without_the_table_has_no_config() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pyproject.toml");
        std::fs::write(&path, "[tool.other]\njobs = \"x\"\n").unwrap();
        assert!(load_file_config(&path).unwrap().is_none());
    }
}
