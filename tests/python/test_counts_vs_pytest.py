"""The same generated suite, run by dbtest, pytest and unittest, gives the same
counts: pytest's exactly (an exception a test raises fails it, as pytest counts
it), and unittest's with its failures and errors added up (unittest tells an
exception from a failed assertion)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import run_dbtest

FUNCTION_BODIES = {
    "pass": "    assert 1 + 1 == 2\n",
    "fail": "    assert [1, 2] == [1, 3]\n",
    "error": "    raise ValueError('boom')\n",
    "skip": "    raise unittest.SkipTest('not here')\n",
}
CASE_METHODS = {
    "pass": "    def test_{n}(self):\n        self.assertEqual(2, 2)\n",
    "fail": "    def test_{n}(self):\n        self.assertEqual(2, 3)\n",
    "error": "    def test_{n}(self):\n        {{}}['missing']\n",
    "skip": "    @unittest.skip('decorated')\n    def test_{n}(self):\n        pass\n",
    "skip_raised": "    def test_{n}(self):\n        self.skipTest('raised')\n",
    "xfail": "    @unittest.expectedFailure\n    def test_{n}(self):\n        self.assertEqual(1, 0)\n",
}


def generate(root: Path) -> None:
    """100 tests in 10 modules: 5 of plain functions, 5 of TestCases."""
    n = 0
    for module in range(10):
        lines = ["import unittest\n\n"]
        if module % 2 == 0:
            kinds = list(FUNCTION_BODIES)
            for i in range(10):
                kind = kinds[(n + i) % len(kinds)]
                lines.append(f"def test_{n + i}():\n{FUNCTION_BODIES[kind]}\n")
        else:
            kinds = list(CASE_METHODS)
            lines.append(f"class Case{module}(unittest.TestCase):\n")
            for i in range(10):
                kind = kinds[(n + i) % len(kinds)]
                lines.append(CASE_METHODS[kind].format(n=n + i))
        n += 10
        (root / f"test_gen_{module}.py").write_text("".join(lines))


def parse_counts(line: str) -> dict[str, int]:
    counts = {name: 0 for name in ("passed", "failed", "error", "skipped", "xfailed")}
    for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed)", line):
        counts["error" if word.startswith("error") else word] += int(number)
    return counts


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    generate(root)
    return root


def test_same_counts_as_pytest(suite):
    ours = run_dbtest("-j", "2", "--no-cache", str(suite))
    theirs = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        capture_output=True,
        text=True,
        cwd=suite,
    )
    mine = parse_counts(ours.last_line)
    pytest_counts = parse_counts(theirs.stdout.strip().splitlines()[-1])
    assert sum(mine.values()) == 100, ours
    assert mine == pytest_counts, (mine, pytest_counts)


# unittest -v prints one line per test that ends with its outcome.
UNITTEST_OUTCOMES = {
    "ok": "passed",
    "FAIL": "failed",
    "ERROR": "error",
    "skipped": "skipped",
    "expected failure": "xfailed",
}
UNITTEST_LINE = re.compile(r" \.\.\. (ok|FAIL|ERROR|skipped|expected failure)\b")


def unittest_counts(stderr: str) -> dict[str, int]:
    """unittest's counts, one per test from its verbose lines. Not from "Ran N
    tests": CPython 3.12.1 left tests skipped by a decorator out of that number
    (gh-106584, undone in 3.12.2), so "Ran N" less the other outcomes is no count
    of the tests that passed there."""
    counts = dict.fromkeys(UNITTEST_OUTCOMES.values(), 0)
    for line in stderr.splitlines():
        found = UNITTEST_LINE.search(line)
        if found:
            counts[UNITTEST_OUTCOMES[found.group(1)]] += 1
    return counts


def test_same_counts_as_unittest(suite):
    cases = [p for p in sorted(suite.glob("test_gen_*.py")) if int(p.stem.rsplit("_", 1)[1]) % 2 == 1]
    ours = run_dbtest("-j", "2", "--no-cache", *map(str, cases))
    theirs = subprocess.run(
        [sys.executable, "-m", "unittest", "-v", *(p.stem for p in cases)],
        capture_output=True,
        text=True,
        cwd=suite,
    )
    summary = dict(
        (name, int(value))
        for name, value in re.findall(r"(failures|errors|skipped|expected failures)=(\d+)", theirs.stderr)
    )
    per_test = unittest_counts(theirs.stderr)
    assert sum(per_test.values()) == 50, theirs.stderr
    # The verbose lines and unittest's own summary agree on what the summary counts.
    assert per_test["skipped"] == summary.get("skipped", 0)
    assert per_test["xfailed"] == summary.get("expected failures", 0)
    assert per_test["failed"] + per_test["error"] == summary.get("failures", 0) + summary.get("errors", 0)
    mine = parse_counts(ours.last_line)
    assert mine["skipped"] == per_test["skipped"]
    assert mine["xfailed"] == per_test["xfailed"]
    assert mine["failed"] + mine["error"] == per_test["failed"] + per_test["error"]
    assert mine["passed"] == per_test["passed"]
