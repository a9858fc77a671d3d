//! The `dbtest-coordinator` binary end to end: JSON arguments in, a run of a
//! small project (with its `[tool.dbtest]` configuration), exit code out.
//!
//! Runs real workers: needs a `python3` with msgpack on PATH (`scripts/test`
//! puts the project's virtualenv first), or `DBTEST_TEST_PYTHON`. The worker
//! runtime is imported from this checkout (`PYTHONPATH`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("DBTEST_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// A project whose configuration narrows the run to `checks/`, with one test
/// that passes, one that fails, and one outside the configured paths.
fn project() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = root.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "pyproject.toml",
        "[project]\nname = 'fixture'\n\n[tool.dbtest]\npaths = ['checks']\njobs = 1\n",
    );
    write(
        "checks/test_checks.py",
        "def test_passes():\n    assert 1 + 1 == 2\n\n\ndef test_fails():\n    assert 1 + 1 == 3\n",
    );
    write(
        "other/test_other.py",
        "def test_outside_the_configured_paths():\n    pass\n",
    );
    root
}

fn coordinator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dbtest-coordinator"))
        .args(args)
        .env("PYTHONPATH", repo())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Runs the binary with these JSON arguments (plus `cwd`, `python`, no cache).
fn run(root: &Path, extra: serde_json::Value) -> Output {
    let mut args = serde_json::json!({
        "cwd": root,
        "python": python(),
        "no_cache": true,
    });
    if let (Some(args), Some(extra)) = (args.as_object_mut(), extra.as_object()) {
        args.extend(extra.clone());
    }
    coordinator(&[&args.to_string()])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn runs_a_project_from_its_configuration_with_the_right_exit_code() {
    let root = project();
    let failing = run(root.path(), serde_json::json!({}));
    let stdout = text(&failing.stdout);
    assert_eq!(
        failing.status.code(),
        Some(1),
        "{stdout}{}",
        text(&failing.stderr)
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(last.starts_with("1 passed, 1 failed"), "{stdout}");
    assert!(!stdout.contains("test_outside_the_configured_paths"));

    let passing = run(root.path(), serde_json::json!({"keyword": "passes"}));
    assert_eq!(passing.status.code(), Some(0), "{}", text(&passing.stdout));

    let nothing = run(root.path(), serde_json::json!({"keyword": "nothing"}));
    assert_eq!(nothing.status.code(), Some(5), "{}", text(&nothing.stdout));
}

#[test]
fn lists_without_running() {
    let root = project();
    let listed = run(root.path(), serde_json::json!({"command": "list"}));
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    assert_eq!(
        text(&listed.stdout),
        "checks/test_checks.py::test_passes\nchecks/test_checks.py::test_fails\n"
    );
}

#[test]
fn usage_errors_exit_4_with_one_line() {
    let two_arguments = coordinator(&["{}", "{}"]);
    assert_eq!(two_arguments.status.code(), Some(4));
    assert_eq!(
        text(&two_arguments.stderr),
        "usage: dbtest-coordinator '<json arguments>'\n"
    );

    let root = project();
    let missing = run(root.path(), serde_json::json!({"paths": ["no/such/dir"]}));
    assert_eq!(missing.status.code(), Some(4));
    assert_eq!(
        text(&missing.stderr),
        "dbtest: error: path does not exist: no/such/dir\n"
    );

    let bad_shard = run(root.path(), serde_json::json!({"shard": "5/4"}));
    assert_eq!(bad_shard.status.code(), Some(4));
    assert_eq!(text(&bad_shard.stderr).lines().count(), 1);
}
