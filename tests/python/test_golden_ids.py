"""Test names and parametrized ids against the cases shared with the Rust side
(`workers/golden/ids.json`), and those cases against pytest itself."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from dbtest.worker.collect import module_tests
from dbtest.worker.names import TestName

from .conftest import REPO

GOLDEN = json.loads((REPO / "workers" / "golden" / "ids.json").read_text())
CASES = GOLDEN["parametrize"]


def _module_from(source: str, path: Path, name: str) -> types.ModuleType:
    path.write_text(GOLDEN["header"] + source + "\n")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_the_worker_expands_parametrize_as_the_golden_cases_say(case, tmp_path):
    module = _module_from(case["source"], tmp_path / "test_g.py", f"golden_case_{CASES.index(case)}")
    assert [name for name, _ in module_tests(module)] == case["ids"]


def test_the_golden_cases_are_what_pytest_collects(tmp_path):
    for index, case in enumerate(CASES):
        (tmp_path / f"test_g{index}.py").write_text(GOLDEN["header"] + case["source"] + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    collected: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if "::" in line:
            path, name = line.split("::", 1)
            collected.setdefault(Path(path).stem, []).append(name)
    for index, case in enumerate(CASES):
        assert collected.get(f"test_g{index}") == case["ids"], case["source"]


@pytest.mark.parametrize("case", GOLDEN["names"], ids=lambda c: c["name"])
def test_names_are_taken_apart_as_pytest_does(case):
    name = TestName(case["name"])
    assert name.function == case["function"]
    assert name.class_path == case["class"]
    assert name.params == case["params"]
