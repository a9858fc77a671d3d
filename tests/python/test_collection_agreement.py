"""The static collector (no import) and the worker's run-time collection (after
import) find the same tests in every fixture project and in the examples.

Where they may differ: a file the static pass marks as defining tests only an
import reveals (`dbtest list` says so, and lists it from an import) may have
more at run time, and more cases of a function it lists. Anything else
must be listed in EXPLAINED with the reason: a file that cannot be imported
(it has no tests at run time), or one test that only one side finds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dbtest import _core

from .conftest import FIXTURES, REPO, dbtest_executable

PROJECTS = sorted([*(p for p in FIXTURES.iterdir() if p.is_dir()), REPO / "examples"])

# A file (relative to the repository) that cannot be imported, or a test
# (`file::name`) only one side finds -> why.
EXPLAINED: dict[str, str] = {
    "tests/fixtures/semantics/pkg/test_import_error.py": "imports a module that does not exist",
    "tests/fixtures/semantics/pkg/test_module_skip.py": "raises unittest.SkipTest as it is imported",
    "tests/fixtures/list_imports/test_broken.py": "imports a module that does not exist (dbtest list's error)",
    # Static collection does not follow `func.__test__ = False` after the
    # definition, so the coordinator lists (and a run runs) a test pytest skips.
    "tests/fixtures/collection/pkg/test_shapes.py::test_flagged_off": "static only: __test__ set after the def",
    # A TestCase imported into a test module is a test class there too, for
    # pytest and for the worker; static collection sees only the classes a file
    # defines and does not mark the file as revealing more at import.
    "tests/fixtures/collection/pkg/test_shapes.py::BaseCase::test_from_base": "run time only: imported TestCase",
    # Deleted as the module is imported: listed statically, no test once imported
    # (a run withdraws it, as pytest never collects it).
    "tests/fixtures/pytest_compat/test_classes.py::TestGone::test_deleted_before_collection[7]": "static only: del",
    "tests/fixtures/pytest_compat/test_classes.py::TestGone::test_deleted_before_collection[8]": "static only: del",
}
# Imports each file as the worker does (pytest's `prepend` rule for its module
# name) and prints what `module_tests` finds, or why the import failed.
RUNTIME = """
import json, os, sys, tempfile
from dbtest.worker.collect import module_tests
from dbtest.worker.loader import load_module
from dbtest.worker.rewrite import set_cache_dir

set_cache_dir(tempfile.mkdtemp())
found = {}
for path in sys.argv[1:]:
    root, parts = os.path.dirname(path), [os.path.basename(path)[:-3]]
    while os.path.exists(os.path.join(root, "__init__.py")):
        root, package = os.path.split(root)
        parts.insert(0, package)
    ref = {"path": path, "name": ".".join(parts), "import_root": root}
    try:
        found[path] = sorted(name for name, _ in module_tests(load_module(ref)))
    except BaseException as exc:
        found[path] = type(exc).__name__ + ": " + str(exc)
print(json.dumps(found))
"""


def _static(project: Path) -> tuple[dict[str, set[str]], set[str]]:
    """Test names per file, and the files with collection errors."""
    document = json.loads(_core.collect(json.dumps({"command": "list", "paths": [str(project)]})))
    rootdir = Path(document["rootdir"])
    names: dict[str, set[str]] = {}
    for test in document["tests"]:
        names.setdefault(str(rootdir / test["file"]), set()).add(test["name"])
    return names, {str(rootdir / error["file"]) for error in document["errors"]}


def _runtime(project: Path, files: list[str]) -> dict[str, list[str] | str]:
    proc = subprocess.run(
        [sys.executable, "-P", "-c", RUNTIME, *files], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def _marked_dynamic(path: str) -> bool:
    proc = subprocess.run([dbtest_executable(), "list", "--static", path], cwd=REPO, capture_output=True, text=True)
    return "may define tests this list cannot show" in proc.stderr


def _expanded(name: str, found: list[str]) -> bool:
    function = name.split("[", 1)[0]
    return any(other.startswith(f"{function}[") for other in found)


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_static_and_run_time_collection_agree(project: Path) -> None:
    static, broken = _static(project)
    files = sorted(set(static) | {str(p) for p in project.rglob("*.py") if p.name.startswith("test_")} - broken)
    runtime = _runtime(project, files)
    differences = []
    for path in files:
        rel = str(Path(path).relative_to(REPO))
        listed, found = static.get(path, set()), runtime[path]
        if isinstance(found, str):
            if rel not in EXPLAINED:
                differences.append(f"{rel}: lists {sorted(listed)} but cannot be imported: {found}")
            continue
        if rel in EXPLAINED:
            differences.append(f"{rel}: explained as not importable, but it is")
            continue
        explained = {name for name in (*listed, *found) if f"{rel}::{name}" in EXPLAINED}
        missing, extra = sorted(listed - set(found) - explained), sorted(set(found) - listed - explained)
        unused = sorted(name for name in explained if (name in listed) == (name in found))
        if (missing or extra) and _marked_dynamic(path):
            # Listed from an import: a function listed with fewer cases (a
            # fixture's params, a hook's) has them there; more tests may be made.
            missing = [name for name in missing if not _expanded(name, found)]
            extra = []
        if missing or extra or unused:
            differences.append(f"{rel}: only static: {missing}; only at run time: {extra}; agree on explained {unused}")
    assert not differences, "\n".join(differences)


def test_the_dynamic_file_is_seen_as_such():
    # The one fixture whose tests are partly made at import: the test above
    # would accept its extra tests only because `dbtest list` marks it.
    path = str(FIXTURES / "semantics" / "pkg" / "test_unittest_semantics.py")
    assert _marked_dynamic(path)
    static, _ = _static(FIXTURES / "semantics")
    runtime = _runtime(FIXTURES / "semantics", [path])
    assert set(runtime[path]) - static[path] == {"Generated1::test_generated", "Generated2::test_generated"}
