"""dbtest follows the installed pytest where pytest's behaviour changed between
releases: pytest 9.2 shortened long string parameters in test ids."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dbtest import invoke

from .conftest import run_dbtest

LONG = "x" * 120
TESTS = f'''
import pytest

@pytest.mark.parametrize("text", ["{LONG}", "short"])
def test_text(text):
    pass
'''


def _fake_pytest(where: Path, version: str) -> Path:
    """A directory that looks like site-packages holding pytest ``version``."""
    (where / "_pytest").mkdir(parents=True)
    (where / "pytest").mkdir()
    (where / f"pytest-{version}.dist-info").mkdir()
    (where / "pytest_xdist-3.5.0.dist-info").mkdir()
    (where / "pytest-xdist-0.1.dist-info").mkdir()
    return where


def test_the_version_is_read_from_the_dist_info_beside_pytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _fake_pytest(tmp_path / "site", "9.1.3")
    script_dir = tmp_path / "bin"
    script_dir.mkdir()
    (script_dir / "pytest").write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "path", [str(script_dir), str(tmp_path / "missing"), str(site), *sys.path])
    assert invoke.pytest_version() == "9.1.3"
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing")])
    assert invoke.pytest_version() is None


@pytest.mark.parametrize(("version", "expected"), [("9.1.0", f"test_text[{LONG}]"), ("9.2.0", "test_text[text0]")])
def test_long_string_ids_follow_the_installed_pytest(tmp_path: Path, version: str, expected: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_long.py").write_text(TESTS)
    site = _fake_pytest(tmp_path / "site", version)
    run = run_dbtest("list", "test_long.py", cwd=project, env={"PYTHONPATH": str(site)})
    assert run.code == 0, run
    assert run.stdout.split() == [f"test_long.py::{expected}", "test_long.py::test_text[short]"], run
