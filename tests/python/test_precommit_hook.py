"""The `dbtest` pre-commit hook (`.pre-commit-hooks.yaml`), run by the real
`pre-commit` tool: `pre-commit try-repo` installs dbtest from this repository
into its own environment, as a project using the hook would, and runs the hook
in a temporary git repository where a staged change breaks one test file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .test_changed import FILES, git

HOOKS = REPO / ".pre-commit-hooks.yaml"


def pre_commit() -> str | None:
    beside = Path(sys.executable).parent / "pre-commit"
    return str(beside) if beside.exists() else shutil.which("pre-commit")


def test_the_hook_file_declares_dbtest_changed():
    text = HOOKS.read_text()
    for line in (
        "- id: dbtest",
        "entry: dbtest --changed",
        "language: python",
        "pass_filenames: false",
        "stages: [pre-commit, manual]",
    ):
        assert line in text, line


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.skipif(pre_commit() is None, reason="pre-commit is not installed (scripts/test installs it)")
@pytest.mark.skipif(shutil.which("cargo") is None, reason="installing dbtest from source needs cargo")
def test_pre_commit_try_repo_runs_the_affected_tests(project):
    root = project(FILES)
    (root / ".gitignore").write_text(".dbtest/\n__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    (root / "pkg" / "core.py").write_text("def value():\n    return 5\n")  # breaks test_mid.py only
    git(root, "add", "pkg/core.py")
    env = {
        **os.environ,
        # Installing dbtest builds its extension: in a target directory of the
        # test's own, kept between runs. Not the checkout's: cargo would take the
        # clone's artifacts for its own (same relative paths), stale ones included.
        # Unoptimised: the hook's behaviour is under test, not its speed, and a
        # release build cost CI minutes on every Python (65 s cold, 17 s warm here).
        "CARGO_TARGET_DIR": str(REPO / "target" / "pre-commit-cargo-o0"),
        "CARGO_PROFILE_RELEASE_OPT_LEVEL": "0",
        "CARGO_PROFILE_RELEASE_LTO": "false",
        "PRE_COMMIT_HOME": str(REPO / "target" / "pre-commit-home"),
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [pre_commit(), "try-repo", str(REPO), "dbtest", "--verbose", "--color", "never"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output  # the hook failed the commit
    assert "dbtest (tests affected by the change)" in output, output
    assert "Failed" in output, output
    assert "tests/test_mid.py::test_doubled" in output, output
    assert "test_other" not in output, output
    assert "1 passed, 1 failed" in output, output
