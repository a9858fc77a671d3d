"""`--import-all` (`import-all = true`): every selected test module is imported
before any test runs, as pytest's collection does — by the fork server, once,
before it forks the workers."""

from __future__ import annotations

import json

from .conftest import run_dbtest

# test_a uses an attribute that exists only once some module imported
# pkg.sub: under pytest, test_b's import at collection provides it.
SUBMODULE_SUITE = {
    "pkg/__init__.py": "",
    "pkg/sub.py": "VALUE = 1\n",
    "test_a.py": "import pkg\n\n\ndef test_uses_the_submodule():\n    assert pkg.sub.VALUE == 1\n",
    "test_b.py": "import pkg.sub\n\n\ndef test_other():\n    assert pkg.sub.VALUE == 1\n",
}


def test_a_lazy_worker_imports_every_module_when_a_test_misses_a_submodule(project):
    """test_a runs first in its worker, before anything imported pkg.sub: it
    fails, the worker imports the run's test modules as pytest's collection
    would have, and the test passes on its second run, with a warning."""
    root = project(SUBMODULE_SUITE)
    for jobs in ("1", "2"):
        run = run_dbtest("-j", jobs, "--no-cache", "--json", "report.json", cwd=root)
        assert run.code == 0, run
        assert run.last_line.startswith("2 passed, 0 failed"), run
    run = run_dbtest("-j", "1", "--no-cache", "--json", "report.json", "test_a.py", "test_b.py", cwd=root)
    assert run.code == 0, run
    warning = "passed once every test module of the run was imported"
    assert warning in run.stdout, run
    assert "nothing had imported pkg.sub" in run.stdout, run
    results = {r["id"]: r for r in json.loads((root / "report.json").read_text())["tests"]}
    assert any(warning in w for w in results["test_a.py::test_uses_the_submodule"]["warnings"]), results


def test_a_submodule_no_test_module_imports_still_fails(project):
    """As under pytest: nothing in the run imports pkg.other."""
    test_c = "import pkg\n\n\ndef test_c():\n    pkg.other\n"
    root = project({**SUBMODULE_SUITE, "pkg/other.py": "", "test_c.py": test_c})
    run = run_dbtest("-j", "1", "--no-cache", "--rerun-alone", "0", cwd=root)
    assert run.code == 1, run
    assert "test_c.py::test_c - AttributeError: module 'pkg' has no attribute 'other'" in run.stdout, run
    assert "3 passed" not in run.stdout and "2 passed, 1 failed" in run.last_line, run


def test_import_all_imports_every_module_before_any_test(project):
    root = project(SUBMODULE_SUITE)
    for jobs in ("1", "2"):
        run = run_dbtest("-j", jobs, "--no-cache", "--import-all", cwd=root)
        assert run.code == 0, run
        assert run.last_line.startswith("2 passed, 0 failed"), run


def test_the_configuration_key_turns_it_on(project):
    root = project({**SUBMODULE_SUITE, "pyproject.toml": "[tool.dbtest]\nimport-all = true\n"})
    run = run_dbtest("-j", "2", "--no-cache", cwd=root)
    assert run.code == 0, run


PIDS = """\
import os

LOG = os.path.join(os.path.dirname(__file__), "imports.log")
with open(LOG, "a") as log:
    log.write(f"{__name__} {os.getpid()}\\n")
print("printed at import")


def test_{name}_1():
    with open(LOG, "a") as log:
        log.write(f"test {os.getpid()}\\n")


def test_{name}_2():
    with open(LOG, "a") as log:
        log.write(f"test {os.getpid()}\\n")
"""


def test_the_fork_server_imports_each_module_once_for_every_worker(project):
    root = project({f"test_{name}.py": PIDS.replace("{name}", name) for name in ("p", "q", "r")})
    run = run_dbtest("-j", "2", "--no-cache", "--import-all", cwd=root)
    assert run.code == 0, run
    assert "printed at import" not in run.stdout + run.stderr
    lines = [line.split() for line in (root / "imports.log").read_text().splitlines()]
    imports = [pid for what, pid in lines if what != "test"]
    workers = {pid for what, pid in lines if what == "test"}
    assert len(imports) == 3, lines
    assert len(set(imports)) == 1, "one process imported them all"
    assert len(workers) == 2, lines
    assert not set(imports) & workers, "before the workers were forked"


def test_a_module_that_fails_to_import_is_reported_by_its_tests(project):
    root = project(
        {
            "test_broken.py": "raise RuntimeError('no import for you')\n\n\ndef test_x():\n    pass\n",
            "test_fine.py": "def test_y():\n    pass\n",
        }
    )
    run = run_dbtest("-j", "2", "--no-cache", "--import-all", cwd=root)
    assert run.code == 1, run
    assert "no import for you" in run.stdout, run
    assert "1 passed" in run.last_line, run


NOT_SELECTED = """\
import pathlib

pathlib.Path(__file__).with_name("imported").touch()


def test_z():
    pass
"""


def test_only_the_selected_modules_are_imported(project):
    root = project({**SUBMODULE_SUITE, "test_c.py": NOT_SELECTED})
    run = run_dbtest("-j", "2", "--no-cache", "--import-all", "test_a.py", "test_b.py", cwd=root)
    assert run.code == 0, run
    assert not (root / "imported").exists()
