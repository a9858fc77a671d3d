"""End-to-end: failing asserts and expectations, as the installed `dbtest` shows them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from dbtest.worker.rewrite import FORMAT_VERSION

from .conftest import FIXTURES, Run, run_dbtest

# Bytecode writing on, whatever the environment says: the cache is under test.
WRITE_BYTECODE = {"PYTHONDONTWRITEBYTECODE": ""}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy, so that caches land in a temporary directory, not the repository.
    target = tmp_path_factory.mktemp("assertions") / "project"
    shutil.copytree(FIXTURES / "assertions", target)
    return target


@pytest.fixture(scope="module")
def first_run(project: Path) -> Run:
    # A user-level cache of its own: one that another test filled with these
    # modules (under dbtest, a session is a worker's) would serve them, and
    # nothing would be rewritten into the project's cache.
    cache_home = project.parent / "cache-home"
    return run_dbtest("-j", "2", ".", cwd=project, env={**WRITE_BYTECODE, "XDG_CACHE_HOME": str(cache_home)})


def summary(run: Run, test: str) -> str:
    """The short-summary line of ``test``."""
    for line in run.stdout.splitlines():
        if line.startswith("FAILED ") and f"::{test} " in line:
            return line
    raise AssertionError(f"no summary line for {test}:\n{run.stdout}")


def test_counts(first_run: Run) -> None:
    assert first_run.code == 1, first_run
    assert first_run.last_line.startswith("1 passed, 6 failed in "), first_run


def test_plain_assert_shows_both_values(first_run: Run) -> None:
    line = summary(first_run, "test_plain_equality_shows_both_values")
    assert line.endswith(" - AssertionError: assert 42 == 41"), first_run
    # The traceback still shows the source line as written.
    assert "    assert answer == expected\n" in first_run.stdout


def test_dict_comparison_shows_a_diff(first_run: Run) -> None:
    out = first_run.stdout
    assert "'retries': 5 != 3" in out, first_run
    assert "  Full diff (- right, + left):" in out
    assert "  - {'host': 'localhost', 'port': 5432, 'retries': 3}" in out
    assert "  + {'host': 'localhost', 'port': 5432, 'retries': 5}" in out
    assert " +  where {'host': 'localhost', 'port': 5432, 'retries': 5} = make_config(retries=5)" in out


def test_expect_failure_shows_both_values_and_a_diff(first_run: Run) -> None:
    line = summary(first_run, "test_expect_to_equal_shows_both_values")
    assert line.endswith(" - AssertionError: expected [1, 2, 3] to equal [1, 2, 4]"), first_run
    assert "  At index 2: 3 != 4" in first_run.stdout


def test_custom_message_comes_with_the_explanation(first_run: Run) -> None:
    line = summary(first_run, "test_call_result_is_explained")
    assert line.endswith(" - AssertionError: config too small"), first_run
    assert "assert 3 > 10\n +  where 3 = len(" in first_run.stdout


def test_only_test_modules_are_rewritten(first_run: Run) -> None:
    assert summary(first_run, "test_helper_asserts_are_left_alone").endswith(" - AssertionError"), first_run
    assert summary(first_run, "test_not_rewritten").endswith(" - AssertionError"), first_run


def test_rewritten_bytecode_is_cached_and_reused(project: Path, first_run: Run) -> None:
    # In the user-level cache, by content (test_values and test_opt_out), and nowhere else.
    cache_home = project.parent / "cache-home"
    entries = _user_entries(cache_home)
    assert len(entries) == 2, entries
    stamps = [p.stat().st_mtime_ns for p in entries]
    assert not list((project / ".dbtest" / "pyc").glob("*.pyc")), "one cache entry per rewrite"
    assert not list(project.glob("__pycache__/*dbtest*")), "source trees stay clean when dbtest has a cache"
    second = run_dbtest("-j", "2", ".", cwd=project, env={**WRITE_BYTECODE, "XDG_CACHE_HOME": str(cache_home)})
    assert _failures(second) == _failures(first_run), second
    assert " +  where 3 = len(" in second.stdout
    assert _user_entries(cache_home) == entries and [p.stat().st_mtime_ns for p in entries] == stamps


def test_without_a_user_level_cache_the_projects_cache_keeps_the_rewrites(tmp_path: Path) -> None:
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "assertions", target)
    env = {**WRITE_BYTECODE, "DBTEST_NO_USER_CACHE": "1"}
    first = run_dbtest("-j", "2", ".", cwd=target, env=env)
    tag = sys.implementation.cache_tag
    # In dbtest's cache directory, as `<file>-<path hash>.<tag>-dbtest-<version>.pyc`.
    entries = (target / ".dbtest" / "pyc").glob(f"*.{tag}-dbtest-{FORMAT_VERSION}.pyc")
    assert sorted(p.name.split("-", 1)[0] for p in entries) == ["test_opt_out", "test_values"], first
    second = run_dbtest("-j", "2", ".", cwd=target, env=env)
    assert _failures(second) == _failures(first), second


def test_cache_is_written_even_when_python_may_not_write_bytecode(tmp_path: Path) -> None:
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "assertions", target)
    # A user-level cache of its own: one that has these modules would serve them unrewritten.
    env = {"PYTHONDONTWRITEBYTECODE": "1", "XDG_CACHE_HOME": str(tmp_path / "cache-home")}
    run = run_dbtest(".", cwd=target, env=env)
    assert "assert 42 == 41" in run.stdout, run
    assert len(_user_entries(tmp_path / "cache-home")) == 2
    assert not list(target.glob("__pycache__/*dbtest*"))
    run = run_dbtest(".", cwd=target, env={**env, "DBTEST_NO_USER_CACHE": "1"})
    assert list((target / ".dbtest" / "pyc").glob("test_values-*.pyc")), run


def test_no_cache_keeps_bytecode_beside_the_sources(tmp_path: Path) -> None:
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "assertions", target)
    run_dbtest("--no-cache", ".", cwd=target, env=WRITE_BYTECODE)
    tag = sys.implementation.cache_tag
    assert (target / "__pycache__" / f"test_values.{tag}-dbtest-{FORMAT_VERSION}.pyc").exists()
    assert not (target / ".dbtest").exists()


def test_edited_source_is_rewritten_again(project: Path, first_run: Run) -> None:
    source = project / "test_values.py"
    original = source.read_text()
    source.write_text(original.replace("expected = 41", "expected = 40"))
    try:
        run = run_dbtest(".", cwd=project, env=WRITE_BYTECODE)
    finally:
        source.write_text(original)
    assert summary(run, "test_plain_equality_shows_both_values").endswith("AssertionError: assert 42 == 40"), run


def test_works_without_writing_bytecode(tmp_path: Path) -> None:
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "assertions", target)
    run = run_dbtest("--no-cache", ".", cwd=target, env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert "assert 42 == 41" in run.stdout, run
    assert not list(target.glob("__pycache__/*dbtest*")), "nothing cached"


def _user_entries(home: Path) -> list[Path]:
    return sorted((home / "dbtest" / "rewrite").glob("*/*.pyc"))


def test_a_fresh_clone_is_served_by_the_user_level_cache(tmp_path: Path) -> None:
    home = tmp_path / "cache-home"
    env = {**WRITE_BYTECODE, "XDG_CACHE_HOME": str(home)}
    first, clone = tmp_path / "first", tmp_path / "clone"
    shutil.copytree(FIXTURES / "assertions", first)
    shutil.copytree(FIXTURES / "assertions", clone)
    run = run_dbtest("-j", "2", ".", cwd=first, env=env)
    entries = _user_entries(home)
    assert len(entries) == 2, (entries, run)  # test_values and test_opt_out, by content
    stamps = [p.stat().st_mtime_ns for p in entries]
    again = run_dbtest("-j", "2", ".", cwd=clone, env=env)
    assert _failures(again) == _failures(run), again
    assert " +  where 3 = len(" in again.stdout
    # Served from the user-level cache: nothing rewritten, so nothing new written anywhere.
    assert _user_entries(home) == entries and [p.stat().st_mtime_ns for p in entries] == stamps
    assert not list((clone / ".dbtest" / "pyc").glob("*.pyc"))


@pytest.mark.parametrize("how", ["--no-cache", "DBTEST_NO_USER_CACHE"])
def test_the_user_level_cache_can_be_left_out(tmp_path: Path, how: str) -> None:
    home = tmp_path / "cache-home"
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "assertions", target)
    env = {**WRITE_BYTECODE, "XDG_CACHE_HOME": str(home)}
    if how == "DBTEST_NO_USER_CACHE":
        env[how] = "1"
    run = run_dbtest(*([how] if how.startswith("--") else []), ".", cwd=target, env=env)
    assert "assert 42 == 41" in run.stdout, run
    assert _user_entries(home) == []


def _failures(run: Run) -> list[str]:
    """The summary lines of the failures (workers may report them in any order)."""
    return sorted(line for line in run.stdout.splitlines() if line.startswith("FAILED "))


ASYNC_FAILURES = """
import asyncio, unittest

async def helper():
    await asyncio.sleep(0)
    raise ValueError("boom")

async def test_async_function():
    await helper()

async def test_awaits_past_a_timeout():
    await asyncio.wait_for(asyncio.sleep(1), 0.01)

class TestAsyncCase(unittest.IsolatedAsyncioTestCase):
    async def test_method(self):
        await helper()

    async def test_assert(self):
        self.assertEqual(1, 2)
"""


def test_async_tracebacks_start_at_the_test(tmp_path: Path) -> None:
    (tmp_path / "test_async.py").write_text(ASYNC_FAILURES)
    # Run from the project: from elsewhere (a clone under /tmp) the rootdir, and
    # with it every id, is the common ancestor of both, as under pytest.
    run = run_dbtest("-j", "1", "--no-cache", str(tmp_path), cwd=tmp_path)
    assert run.last_line.startswith("0 passed, 4 failed in "), run
    failures = run.stdout.split("short test summary info")[0].split(" test_async.py::")[1:]
    assert len(failures) == 4, run
    for failure in failures:
        # The last traceback of each (the one the test raised) starts at the test.
        last = failure.split("Traceback (most recent call last):")[-1]
        assert last.strip().startswith(f'File "{tmp_path / "test_async.py"}"'), run
        assert "base_events.py" not in failure and "async_case.py" not in failure, run
    # What the test itself called into stays.
    assert "in wait_for" in run.stdout, run
