"""`--cov`: coverage measured in every worker with coverage.py, combined and
reported once, with pytest-cov's option names and pytest-cov's numbers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES, run_dbtest

pytest.importorskip("coverage")
pytest.importorskip("pytest_cov")


@pytest.fixture
def calc(tmp_path: Path) -> Path:
    """A copy of the fixture project (coverage writes its data file in the cwd)."""
    target = tmp_path / "calc-project"
    shutil.copytree(FIXTURES / "coverage", target)
    return target


def _pytest_cov(cwd: Path, report: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov=calc", f"--cov-report=json:{report}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((cwd / report).read_text())


def _measured(report: dict) -> dict[str, tuple]:
    return {
        name: (data["executed_lines"], data["missing_lines"], data.get("executed_branches"), data["summary"])
        for name, data in report["files"].items()
    }


@pytest.mark.parametrize("how", [["-j", "2"], ["-j", "1"], ["-j", "2", "--import-all"]], ids=["j2", "j1", "import-all"])
def test_the_numbers_equal_pytest_cov(calc: Path, how: list[str]) -> None:
    expected = _pytest_cov(calc, "pytest.json")
    run = run_dbtest(*how, "--cov=calc", "--cov-report=term-missing", "--cov-report=json:dbtest.json", cwd=calc)
    assert run.code == 0, run
    got = json.loads((calc / "dbtest.json").read_text())
    assert got["totals"] == expected["totals"]
    assert _measured(got) == _measured(expected)
    # Module-level lines count (measurement starts before any test module is
    # imported), the configuration's `omit` and `exclude_also` apply, and
    # branch coverage is on as `[tool.coverage.run]` says.
    shapes = got["files"]["calc/shapes.py"]
    assert 23 in shapes["executed_lines"]  # DEFAULT = only_at_import()
    assert "calc/vendored.py" not in got["files"]
    assert got["meta"]["branch_coverage"]
    # The terminal report comes once, before the summary line.
    assert run.stdout.count("TOTAL") == 1
    assert run.stdout.index("TOTAL") < run.stdout.index("16 passed")
    assert run.last_line.startswith("16 passed")
    assert (calc / ".coverage").is_file()


def test_pytest_addopts_with_cov_work_unchanged_and_no_cov_turns_it_off(calc: Path) -> None:
    pyproject = calc / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'testpaths = ["tests"]', 'testpaths = ["tests"]\naddopts = "--cov=calc --cov-report=xml:cov.xml"'
        )
    )
    run = run_dbtest("-j", "2", cwd=calc)
    assert run.code == 0, run
    assert "Coverage XML written to file cov.xml" in run.stdout
    assert "ignoring pytest options" not in run.stdout + run.stderr
    assert 'filename="shapes.py"' in (calc / "cov.xml").read_text()
    (calc / "cov.xml").unlink()
    off = run_dbtest("-j", "2", "--no-cov", cwd=calc)
    assert off.code == 0, off
    assert "coverage" not in off.stdout
    assert not (calc / "cov.xml").exists()


def test_fail_under_fails_the_run_and_bad_options_are_usage_errors(calc: Path) -> None:
    run = run_dbtest("-j", "2", "--cov=calc", "--cov-fail-under=95", cwd=calc)
    assert run.code == 1, run
    assert "FAIL Required test coverage of 95% not reached. Total coverage: 88.89%" in run.stdout
    assert run.last_line.startswith("16 passed")
    ok = run_dbtest("-j", "2", "--cov=calc", "--cov-report=", "--cov-fail-under=80", cwd=calc)
    assert ok.code == 0, ok
    assert "Required test coverage of 80% reached" in ok.stdout
    assert "TOTAL" not in ok.stdout
    bad = run_dbtest("--cov=calc", "--cov-report=bogus", cwd=calc)
    assert bad.code == 4, bad
    assert bad.stderr.count("\n") == 1 and "--cov-report must be" in bad.stderr, bad


def test_dynamic_contexts_record_the_tests_of_each_line(calc: Path) -> None:
    run = run_dbtest("-j", "2", "--cov=calc", "--cov-context=test", "--cov-report=json:ctx.json", cwd=calc)
    assert run.code == 0, run
    contexts = json.loads((calc / "ctx.json").read_text())["files"]["calc/ops.py"]["contexts"]
    assert contexts["7"] == ["tests/test_ops.py::test_divide_by_zero|run"]
    assert contexts["1"] == [""]  # `def add`: run at import, by no test


CRASHING = {
    "pkg/__init__.py": "",
    "pkg/work.py": """\
def before_crash():
    return "saved"


def before_hang():
    return "saved too"


def in_subprocess():
    return "child"
""",
    "pyproject.toml": '[tool.coverage.run]\npatch = ["subprocess"]\n',
    "test_a.py": """\
import os, signal, subprocess, sys, time
from pkg.work import before_crash, before_hang


def test_1_before():
    assert before_crash() == "saved"


def test_2_crash():
    os.kill(os.getpid(), signal.SIGKILL)


def test_3_hang():
    before_hang()
    time.sleep(60)


def test_4_subprocess():
    subprocess.run([sys.executable, "-c", "from pkg.work import in_subprocess; in_subprocess()"], check=True)
""",
}


def test_crashed_timed_out_and_replaced_workers_and_subprocesses_all_count(project) -> None:
    root = project(CRASHING)
    # Saved after every test: what the worker measured before it was killed is kept.
    run = run_dbtest(
        "-j", "1", "--timeout", "2", "--cov=pkg", "--cov-report=json:cov.json", cwd=root,
        env={"DBTEST_COVERAGE_SAVE_INTERVAL": "0"},
    )  # fmt: skip
    assert run.code == 1, run
    assert "worker crashed" in run.stdout and "timed out after 2 s" in run.stdout
    work = json.loads((root / "cov.json").read_text())["files"]["pkg/work.py"]
    assert work["missing_lines"] == [], work


def test_a_timed_out_worker_saves_what_it_measured(project) -> None:
    root = project(CRASHING)
    # Never saved on the way: only the SIGTERM that ends a timed-out test saves.
    run = run_dbtest(
        "-j", "1", "--timeout", "2", "--cov=pkg", "--cov-report=json:cov.json", "-k", "hang", cwd=root,
        env={"DBTEST_COVERAGE_SAVE_INTERVAL": "100000"},
    )  # fmt: skip
    assert run.code == 1, run
    work = json.loads((root / "cov.json").read_text())["files"]["pkg/work.py"]
    assert 6 in work["executed_lines"], work


def test_coverage_off_imports_nothing_of_it(project) -> None:
    root = project({"test_x.py": "import sys\n\ndef test_no_coverage():\n    assert 'coverage' not in sys.modules\n"})
    run = run_dbtest("-j", "2", cwd=root)
    assert run.code == 0, run
    run = run_dbtest("-j", "1", "--cov", "--cov-report=", cwd=root)
    assert run.code == 1, run
