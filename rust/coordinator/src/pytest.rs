//! What pytest's settings mean for the pieces of a run: static collection
//! (which names are tests, how parametrized ids are made) and the workers
//! (xfail strictness, warning filters, ids, `pythonpath`).

use crate::pipeline::Collected;
use dbtest_config::Settings;
use dbtest_protocol::{IniValue, PytestOptions};
use dbtest_pytest_config::Value;
use dbtest_runner::Plan;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What static collection needs of pytest's settings: which names are tests,
/// and how parametrized ids are made.
pub(crate) fn collect_project(settings: &Settings) -> dbtest_collect::Project {
    let pytest = &settings.pytest;
    let id_options = dbtest_collect::IdOptions {
        escape: pytest.escape_ids,
        long_strings: match pytest.long_str_strategy {
            dbtest_config::Strategy::Short => dbtest_collect::LongStrings::Short,
            dbtest_config::Strategy::Legacy => dbtest_collect::LongStrings::Legacy,
            _ => dbtest_collect::LongStrings::Other,
        },
        strict: pytest.strict_parametrization_ids,
        empty_set: match pytest.empty_parameter_set_mark.as_str() {
            "xfail" => dbtest_collect::EmptySet::Xfail,
            "fail_at_collect" => dbtest_collect::EmptySet::Fail,
            _ => dbtest_collect::EmptySet::Skip,
        },
    };
    let rules = dbtest_collect::NameRules {
        classes: pytest.python_classes.clone(),
        functions: pytest.python_functions.clone(),
    };
    dbtest_collect::Project::with_rules(id_options, rules)
}

/// The pytest settings every worker is configured with.
pub(crate) fn worker_options(settings: &Settings) -> PytestOptions {
    let pytest = &settings.pytest;
    PytestOptions {
        xfail_strict: pytest.xfail_strict,
        filterwarnings: pytest.filterwarnings.clone(),
        warning_filters: settings.warning_filters.clone(),
        escape_ids: pytest.escape_ids,
        long_str_strategy: match pytest.long_str_strategy {
            dbtest_config::Strategy::Short => "short",
            dbtest_config::Strategy::Legacy => "legacy",
            dbtest_config::Strategy::Sha256 => "sha256",
            dbtest_config::Strategy::Disallow => "disallow",
        }
        .into(),
        strict_parametrization_ids: pytest.strict_parametrization_ids,
        empty_parameter_set_mark: pytest.empty_parameter_set_mark.clone(),
        python_classes: pytest.python_classes.clone(),
        python_functions: pytest.python_functions.clone(),
        pythonpath: pytest
            .pythonpath
            .iter()
            .map(|p| settings.rootdir.join(p).to_string_lossy().into_owned())
            .collect(),
        usefixtures: pytest.usefixtures.clone(),
        strict_markers: pytest.strict_markers,
        inifile: settings
            .pytest_inifile
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        ini: settings
            .pytest_ini
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Value::Text(text) => IniValue::Text(text.clone()),
                    Value::List(items) => IniValue::List(items.clone()),
                    Value::Bool(b) => IniValue::Bool(*b),
                    Value::Int(i) => IniValue::Int(*i),
                };
                (key.clone(), value)
            })
            .collect(),
        extra_args: settings.extra_args.clone(),
        basetemp: basetemp(&std::env::temp_dir())
            .to_string_lossy()
            .into_owned(),
    }
}

/// What the fork server imports before forking workers: pytest, when a
/// planned module imports it or a `conftest.py` above one exists (conftests
/// are nearly always pytest's). Each worker would otherwise import it itself,
/// some 150 ms of CPU apiece.
pub(crate) fn preload(settings: &Settings, collected: &Collected, plan: &Plan) -> Vec<String> {
    let planned: HashSet<&str> = plan.modules.iter().map(|m| m.rel.as_str()).collect();
    let mut seen_dirs: HashSet<&Path> = HashSet::new();
    let mut uses_pytest = false;
    for (file, imports) in collected.files.iter().zip(&collected.imports_pytest) {
        if !planned.contains(file.rel.as_str()) {
            continue;
        }
        if *imports {
            uses_pytest = true;
            break;
        }
        let mut dir = file.path.parent();
        while let Some(current) = dir {
            if !current.starts_with(&settings.rootdir) || !seen_dirs.insert(current) {
                break;
            }
            if current.join("conftest.py").is_file() {
                uses_pytest = true;
                break;
            }
            dir = current.parent();
        }
        if uses_pytest {
            break;
        }
    }
    if uses_pytest {
        vec!["pytest".to_string()]
    } else {
        Vec::new()
    }
}

/// How many runs' temporary directories are kept (pytest keeps 3).
const KEPT_BASETEMPS: usize = 3;

/// The run's base temporary directory, `<tmp>/dbtest-of-<user>/dbtest-<N>`
/// with N one past the highest there, as pytest's `pytest-of-<user>/pytest-<N>`.
/// The number is claimed by creating the directory (a concurrent run takes the
/// next one), with a `.lock` naming this process, as pytest does; the oldest
/// runs' directories go, so that with this one the last three remain, except
/// those whose run is still alive. See [`release_basetemp`] for the run's end.
pub(crate) fn basetemp(temp: &Path) -> PathBuf {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty() && !u.contains(['/', '\\']))
        // SAFETY: getuid cannot fail.
        .unwrap_or_else(|| format!("uid{}", unsafe { libc::getuid() }));
    let parent = temp.join(format!("dbtest-of-{user}"));
    let _ = private_dir().recursive(true).create(&parent);
    let mut numbers: Vec<u64> = std::fs::read_dir(&parent)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix("dbtest-"))
                        .and_then(|n| n.parse().ok())
                })
                .collect()
        })
        .unwrap_or_default();
    numbers.sort_unstable();
    let mut next = numbers.last().map_or(0, |n| n + 1);
    // Claimed by whoever creates it first.
    for _ in 0..100 {
        match private_dir().create(parent.join(format!("dbtest-{next}"))) {
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
            // A run that just ended removed the empty parent.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let _ = private_dir().recursive(true).create(&parent);
            }
            _ => break, // ours, or not creatable here: the workers try again
        }
    }
    let claimed = parent.join(format!("dbtest-{next}"));
    let _ = std::fs::write(claimed.join(LOCK), std::process::id().to_string());
    let keep_from = numbers.len().saturating_sub(KEPT_BASETEMPS - 1);
    for old in &numbers[..keep_from] {
        let dir = parent.join(format!("dbtest-{old}"));
        if !in_use(&dir) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    claimed
}

/// After the run: its lock goes, and so does its base temporary directory if
/// no test used it (and their parent, if no run left anything there), so that a
/// run that asked for no temporary directory leaves none.
pub(crate) fn release_basetemp(basetemp: &Path) {
    let _ = std::fs::remove_file(basetemp.join(LOCK));
    if std::fs::remove_dir(basetemp).is_ok() {
        if let Some(parent) = basetemp.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Names the process whose run a base temporary directory belongs to.
const LOCK: &str = ".lock";

fn private_dir() -> std::fs::DirBuilder {
    use std::os::unix::fs::DirBuilderExt;
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(0o700);
    builder
}

/// The run that claimed `dir` is still going (its lock names a live process).
fn in_use(dir: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(dir.join(LOCK))
        .ok()
        .and_then(|text| text.trim().parse::<libc::pid_t>().ok())
        .filter(|pid| *pid > 0)
    else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basetemp_numbers_runs_and_keeps_the_last_three() {
        let tmp = tempfile::tempdir().unwrap();
        let first = basetemp(tmp.path());
        assert!(first.ends_with("dbtest-0"), "{first:?}");
        assert!(first.is_dir(), "the number is claimed");
        let parent = first.parent().unwrap().to_path_buf();
        // A concurrent run does not get the same directory.
        let second = basetemp(tmp.path());
        assert!(second.ends_with("dbtest-1"), "{second:?}");
        for n in [0, 1, 2, 3, 7] {
            std::fs::create_dir_all(parent.join(format!("dbtest-{n}"))).unwrap();
            // Finished runs: their lock names a process that is gone.
            std::fs::write(parent.join(format!("dbtest-{n}/.lock")), "999999999").unwrap();
        }
        // A run still going keeps its directory, however old.
        std::fs::write(
            parent.join("dbtest-1/.lock"),
            std::process::id().to_string(),
        )
        .unwrap();
        let next = basetemp(tmp.path());
        assert!(next.ends_with("dbtest-8"), "{next:?}");
        let mut left: Vec<String> = std::fs::read_dir(&parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["dbtest-1", "dbtest-3", "dbtest-7", "dbtest-8"]);
        // A run whose tests used its directory keeps it; one that did not leaves nothing.
        std::fs::write(next.join("data"), "").unwrap();
        release_basetemp(&next);
        assert!(next.join("data").exists() && !next.join(".lock").exists());
        let unused = tempfile::tempdir().unwrap();
        let claimed = basetemp(unused.path());
        release_basetemp(&claimed);
        assert_eq!(std::fs::read_dir(unused.path()).unwrap().count(), 0);
    }
}
