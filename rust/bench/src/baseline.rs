//! Saved runs: `--save NAME` writes the run's JSON report to
//! `<cache dir>/benchmarks/NAME.json`; `--compare NAME` reads it back.

use crate::analysis::Analysis;
use crate::BenchError;
use std::path::{Path, PathBuf};

/// A name usable as a file name: letters, digits, `.`, `_`, `-`.
pub fn check_name(name: &str) -> Result<(), BenchError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(BenchError::Baseline(format!(
            "invalid benchmark run name {name:?}: use letters, digits, '.', '_' and '-'"
        )))
    }
}

fn dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("benchmarks")
}

/// The names of the saved runs, sorted.
pub fn saved_names(cache_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir(cache_dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

pub fn load(cache_dir: &Path, name: &str) -> Result<Analysis, BenchError> {
    check_name(name)?;
    let path = dir(cache_dir).join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).map_err(|_| {
        let names = saved_names(cache_dir);
        BenchError::Baseline(format!(
            "no saved benchmark run named {name:?} ({})",
            if names.is_empty() {
                "none saved yet: use --save NAME".to_string()
            } else {
                format!("saved: {}", names.join(", "))
            }
        ))
    })?;
    Analysis::from_json(&text).map_err(|e| BenchError::Baseline(format!("{}: {e}", path.display())))
}

/// Writes `analysis` as `name` (atomically: a temporary file renamed).
pub fn save(cache_dir: &Path, name: &str, analysis: &Analysis) -> Result<PathBuf, BenchError> {
    check_name(name)?;
    let dir = dir(cache_dir);
    let fail =
        |e: std::io::Error| BenchError::Baseline(format!("cannot save to {}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let path = dir.join(format!("{name}.json"));
    let tmp = dir.join(format!(".{name}.json.tmp"));
    std::fs::write(&tmp, analysis.to_json()).map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)?;
    Ok(path)
}
