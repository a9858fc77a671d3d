"""End-to-end runs of the installed `dbtest` command: exit codes, bad input, workers."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import FIXTURES, REPO, dbtest_executable, run_dbtest


def test_examples_pass():
    run = run_dbtest("-j", "2", "examples")
    assert run.code == 0, run
    assert re.fullmatch(r"\d+ passed, 0 failed, 1 skipped in \d+\.\d\ds", run.last_line), run


def test_skeleton_reports_four_passed_one_failed_on_two_workers(tmp_path):
    # No rerun of the failure in a fresh worker: the worker processes are under test.
    log = tmp_path / "pids.log"
    run = run_dbtest("-j", "2", "--rerun-alone", "0", str(FIXTURES / "skeleton"), env={"DBTEST_PID_LOG": str(log)})
    assert run.code == 1, run
    assert run.last_line.startswith("4 passed, 1 failed in "), run
    assert "test_skeleton.py::test_broken" in run.stdout
    assert "assert 1 + 1 == 3" in run.stdout, "the failure shows its traceback"
    records = [line.split() for line in log.read_text().splitlines()]
    pids = {pid for pid, _, _ in records}
    parents = {ppid for _, ppid, _ in records}
    grandparents = {grandparent for _, _, grandparent in records}
    assert len(pids) == 2, f"tests ran in {len(pids)} worker process(es): {records}"
    assert len(parents) == 1 and parents.isdisjoint(pids), "both forked by one fork server"
    assert grandparents == {str(run.pid)}, "the fork server is a child of the coordinator (the dbtest process)"


def test_empty_directory_exits_5(tmp_path):
    run = run_dbtest(str(tmp_path))
    assert run.code == 5, run
    assert "no tests ran" in run.stdout


def test_unknown_option_is_a_one_line_usage_error():
    run = run_dbtest("--no-such-option")
    assert run.code == 4, run
    assert run.stderr.count("\n") == 1, run
    assert "--no-such-option" in run.stderr


def test_bad_values_are_usage_errors(tmp_path):
    for args in (["-j", "0"], ["--timeout", "-1"], ["does/not/exist"], ["-k", "a and ("]):
        run = run_dbtest(*args, cwd=tmp_path)
        assert run.code == 4, (args, run)
        assert run.stderr.count("\n") == 1, (args, run)
        assert "Traceback" not in run.stderr


def test_bad_keyword_expression_points_at_the_column(tmp_path):
    run = run_dbtest("-k", "login or or", cwd=tmp_path)
    assert run.code == 4
    assert "column 10" in run.stderr, run


def test_version():
    run = run_dbtest("--version")
    assert run.code == 0
    assert run.stdout.startswith("dbtest ")


def test_exit_codes_come_from_the_coordinator_and_cost_version_nothing():
    from dbtest import _core, cli

    codes = {name: cli.exit_code(name) for name in ("OK", "TESTS_FAILED", "INTERRUPTED")}
    codes |= {name: cli.exit_code(name) for name in ("INTERNAL_ERROR", "USAGE_ERROR", "NO_TESTS")}
    assert codes == {
        "OK": 0,
        "TESTS_FAILED": 1,
        "INTERRUPTED": 2,
        "INTERNAL_ERROR": 3,
        "USAGE_ERROR": 4,
        "NO_TESTS": 5,
    }
    assert _core.EXIT_USAGE_ERROR == 4
    # `dbtest --version` never loads the native module.
    version = subprocess.run(
        [sys.executable, "-P", "-X", "importtime", "-m", "dbtest", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("dbtest "), version
    imported = [line.rsplit("|", 1)[-1].strip() for line in version.stderr.splitlines()]
    assert "click" in imported, "-X importtime lists the imports"
    assert "dbtest._core" not in imported


def test_noisy_tests_do_not_disturb_the_protocol():
    run = run_dbtest("-j", "2", str(FIXTURES / "noisy"))
    assert run.code == 1, run
    assert run.last_line.startswith("4 passed, 1 failed"), run
    assert "visible output" in run.stdout
    assert "raw tail" in run.stdout
    assert "expected failure" in run.stdout
    # Megabytes of output from a passing test are not echoed.
    assert len(run.stdout) < 200_000


def test_list_shows_ids_without_running(tmp_path):
    run = run_dbtest("list", "examples", cwd=REPO)
    assert run.code == 0, run
    ids = run.stdout.split()
    assert "examples/test_unittest.py::StackTests::test_push" in ids
    assert "examples/test_suite.py::CounterSuite::increments" in ids
    assert "examples/test_functions.py::TestMath::test_sorted" in ids


def test_a_closed_pipe_is_not_an_error(tmp_path):
    import subprocess

    from .conftest import dbtest_executable

    for module in range(30):
        (tmp_path / f"test_m{module}.py").write_text("".join(f"def test_{i}():\n    pass\n" for i in range(100)))
    for args in (["list"], ["--no-cache", "--format", "json"]):
        proc = subprocess.run(
            f"'{dbtest_executable()}' {' '.join(args)} '{tmp_path}' | head -c 10",
            shell=True,
            capture_output=True,
            text=True,
            executable="/bin/bash",
        )
        assert "Traceback" not in proc.stderr and "error" not in proc.stderr, (args, proc.stderr)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_the_arguments_reach_the_coordinator_as_json_dumps_writes_them(value):
    from dbtest.invoke import to_json

    assert to_json(value) == json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize(
    "argv",
    [
        ["tests", "-j", "3", "-k", "login and not slow", "-vv", "--timeout=2.5"],
        ["list", "-q", "--json", "out.json", "a.py::test_x[a b]"],
        ["unit", "-xs", "--lf", "--capture", "no", "--shard", "2/4", "--color=no"],
        ["-j4", "-mslow", "--durations", "0", "--retries=2", "--flaky-result", "fail", "--format", "json"],
        # pytest-cov's options: `--cov` takes the next word unless it is an option.
        ["--cov", "--cov=src", "--cov", "pkg", "--cov-report", "term-missing", "--cov-report=xml:c.xml", "tests"],
        ["--cov-fail-under", "80", "--cov-branch", "--no-cov", "--cov-context", "test", "--html", "r.html", "--cov"],
        ["--changed", "-j", "2"],
        ["tests", "--changed"],
        ["list", "--changed", "main", "--explain", "--budget", "3", "--budget-strict"],
        ["--changed=HEAD~1", "--watch", "-q"],
    ],
)
def test_the_fast_parser_reads_a_command_line_as_click_does(argv):
    from dbtest import cli, fastcli

    name, fast = fastcli.parse(argv)
    command = cli._COMMANDS[name]()
    context = command.make_context(name, list(argv[1:] if argv and argv[0] == name else argv))
    assert fast == context.params


@pytest.mark.parametrize(
    "argv", [["--help"], ["run", "-h"], ["-j", "0"], ["--bogus"], ["merge", "a.json"], ["--timeout", "0"], ["-k"]]
)
def test_the_fast_parser_leaves_the_rest_to_click(argv):
    from dbtest import cli, cli_options, fastcli

    assert fastcli.parse(argv) is None
    # Every command it does not parse is one it knows is not a path.
    assert set(cli._COMMANDS) - set(cli_options.TEST_COMMANDS) == cli_options.OTHER_COMMANDS


def test_help_shows_the_options_of_a_run_and_the_commands():
    run = run_dbtest("--help")
    assert run.code == 0, run
    assert run.stdout.startswith("Usage: dbtest [OPTIONS] [PATHS]...\n"), run
    for text in ("-j, --jobs", "--timeout SECONDS", "--retries N", "--version", "-h, --help", "Commands:", "merge"):
        assert text in run.stdout, (text, run)


def test_list_help_shows_only_what_applies_to_a_list(tmp_path):
    run = run_dbtest("list", "--help")
    assert run.code == 0, run
    for text in ("-k, --pattern", "-m, --tags", "--shard K/N|auto", "--format"):
        assert text in run.stdout, (text, run)
    for text in ("--retries", "--timeout", "--jobs", "--maxfail", "--junit-xml", "--collect-only"):
        assert text not in run.stdout, (text, run)
    # Still accepted (and ignored), as `--collect-only` accepts them.
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    listed = run_dbtest("list", "--timeout", "5", "--retries", "2", str(tmp_path))
    assert listed.code == 0 and listed.stdout.endswith("test_a.py::test_a\n"), listed


def _complete(words: str, cwd) -> list[str]:
    index = len(words.split()) - (0 if words.endswith(" ") else 1)
    run = run_dbtest(cwd=cwd, env={"_DBTEST_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(index)})
    assert run.code == 0, run
    return [line for line in run.stdout.splitlines() if line]


def test_completion_offers_commands_paths_and_run_options_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "test_a.py").write_text(f"def test_a():\n    open({str(marker)!r}, 'w').close()\n")
    first = _complete("dbtest ", tmp_path)
    assert {"plain,run", "plain,list", "plain,merge", "file,"} <= set(first), first
    assert _complete("dbtest li", tmp_path) == ["plain,list", "file,li"]
    assert _complete("dbtest --retr", tmp_path) == ["plain,--retries"]
    assert _complete("dbtest tests --timeo", tmp_path) == ["plain,--timeout"]
    assert _complete("dbtest list --retr", tmp_path) == []
    assert not marker.exists(), "asking for completions ran the tests"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('jobs = "many"', 'jobs must be a whole number of workers, at least 1, not "many"'),
        ("jobs = 0", "jobs must be a whole number of workers, at least 1, not 0"),
        ("timeout = -5", "timeout must be a number of seconds greater than 0, such as 30 or 2.5, not -5"),
        ("retries = 1.5", "retries must be a whole number of reruns, 0 or more, not 1.5"),
        ('shard-mode = "bogus"', 'shard-mode must be "duration", "hash" or "slice", not "bogus"'),
        ('max-worker-rss = "lots"', 'max-worker-rss must be a size such as "512M" or "2G"'),
        ("jbos = 3", "unknown key jbos (did you mean jobs?)"),
    ],
)
def test_configuration_errors_name_file_line_key_and_what_is_allowed(tmp_path, setting, expected):
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.dbtest]\n{setting}\n')
    for args in ([], ["list"]):
        run = run_dbtest(*args, cwd=tmp_path)
        assert run.code == 4, run
        assert run.stderr.startswith(f"dbtest: error: {tmp_path / 'pyproject.toml'}:5: {expected}"), run
        assert run.stderr.count("\n") == 1, run
        assert not re.search(r"\b(usize|u32|f64|i64)\b", run.stderr), run


@pytest.mark.parametrize(
    ("ini", "expected"),
    [
        ("xfail_strict = maybe", 'xfail_strict must be true or false (or yes/no, on/off, 1/0), not "maybe"'),
        ("addopts = --timeout -5", "addopts: --timeout must be a number of seconds greater than 0, not -5"),
        ("empty_parameter_set_mark = x", 'empty_parameter_set_mark must be skip, xfail or fail_at_collect, not "x"'),
    ],
)
def test_pytest_configuration_errors_name_file_line_and_key(tmp_path, ini, expected):
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n# settings\n{ini}\n")
    run = run_dbtest(cwd=tmp_path)
    assert run.code == 4, run
    assert run.stderr == f"dbtest: error: {tmp_path / 'pytest.ini'}:3: {expected}\n", run


def test_the_installed_command_imports_only_what_the_command_needs(project) -> None:
    """The `dbtest` script is our own (packaging/wheel-data/scripts): an
    installer's wrapper for an entry point imports `re` before dbtest runs."""
    root = project({"test_a.py": "def test_a():\n    pass\n"})
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", dbtest_executable(), "list"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "test_a.py::test_a"
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "dbtest.launch" in imported, proc.stderr
    assert not imported & {"re", "click", "json", "typing"}, sorted(imported & {"re", "click", "json", "typing"})


def test_pytest_options_are_taken_out_translated_or_passed_on() -> None:
    from dbtest.cli_options import OWN_NAMES
    from dbtest.pytest_args import split

    own, passed = split(
        ["-ra", "-p", "no:cacheprovider", "-x", "--co", "-n", "4", "tests", "-W", "error", "--tb=short"]
        + ["--junitxml", "out.xml", "-k", "smoke", "--runxfail", "--bogus", "-Z"],
        OWN_NAMES,
    )
    assert own == ["-x", "--collect-only", "-j", "4", "tests", "--junit-xml", "out.xml", "-k", "smoke", "--bogus", "-Z"]
    assert passed == ["-ra", "-p", "no:cacheprovider", "-W", "error", "--tb=short", "--runxfail"]
    # pytest-xdist's `auto` is dbtest's default; `-n 0` (no xdist) is one worker.
    assert split(["-n", "auto"], OWN_NAMES) == ([], [])
    assert split(["-n0"], OWN_NAMES) == (["-j", "1"], [])


def test_a_pytest_command_line_runs_under_dbtest(project) -> None:
    root = project(
        {
            "tests/test_w.py": (
                "import warnings\n\n\ndef test_warns():\n    warnings.warn('careful', UserWarning)\n\n\n"
                "def test_quiet():\n    pass\n"
            ),
        }
    )
    run = run_dbtest("-ra", "-p", "no:cacheprovider", "--tb=short", "-W", "error", "-n", "2", "tests", cwd=root)
    assert run.code == 1, run
    assert "FAILED tests/test_w.py::test_warns - UserWarning: careful" in run.stdout, run
    assert run.last_line.startswith("1 passed, 1 failed"), run
    assert "running 2 tests on 2 workers" in run.stdout + run.stderr, run

    listed = run_dbtest("--co", "-q", "tests", cwd=root)
    assert listed.stdout.split() == ["tests/test_w.py::test_warns", "tests/test_w.py::test_quiet"], listed

    noted = run_dbtest("--runxfail", "tests", "-k", "quiet", cwd=root)
    assert noted.code == 0, noted
    assert "ignoring pytest options dbtest does not support: --runxfail" in noted.stderr, noted

    unknown = run_dbtest("--no-such-option", "tests", cwd=root)
    assert unknown.code == 4, unknown
    assert "No such option '--no-such-option'" in unknown.stderr, unknown
