"""End-to-end: per-test capture (fd level, subprocesses included), live output
with -s, and what a worker restores between tests."""

from __future__ import annotations

from .conftest import run_dbtest

CAPTURE = {
    "test_out.py": """
import os, subprocess, sys

def test_a_prints_and_fails():
    print("marker-A stdout")
    sys.stderr.write("marker-A stderr\\n")
    subprocess.run([sys.executable, "-c", "print('marker-A child')"], check=True)
    os.write(1, b"marker-A raw fd\\n")
    assert False

def test_b_prints_and_passes():
    print("marker-B")

def test_c_prints_and_fails():
    print("marker-C")
    assert False
""",
}


def test_output_is_shown_with_its_own_failure_only(project):
    root = project(CAPTURE)
    run = run_dbtest("-j", "1", "--no-cache", str(root))
    assert run.code == 1, run
    section_a = run.stdout.split("test_a_prints_and_fails", 1)[1].split("test_c_prints_and_fails", 1)[0]
    for marker in ("marker-A stdout", "marker-A stderr", "marker-A child", "marker-A raw fd"):
        assert marker in section_a, (marker, run)
    assert "marker-C" not in section_a
    assert "marker-B" not in run.stdout, "a passing test's output is not shown"


def test_dash_s_streams_output_prefixed_by_worker(project):
    root = project(CAPTURE)
    run = run_dbtest("-s", "-j", "2", "--no-cache", str(root))
    assert run.code == 1, run
    lines = run.stdout.splitlines()
    for marker in ("marker-A stdout", "marker-A child", "marker-B", "marker-C"):
        assert any(line.startswith("[w") and line.endswith(marker) for line in lines), (marker, run)


def test_state_a_test_changes_is_restored_for_the_next(project):
    root = project(
        {
            "test_iso.py": """
import os, sys, types

START = os.getcwd()

def test_1_changes_everything():
    os.chdir("/")
    sys.path.insert(0, "/nonexistent")
    os.environ["DBTEST_LEAK"] = "1"
    os.environ.pop("HOME", None)
    sys.modules["made_up_module"] = types.ModuleType("made_up_module")

def test_2_sees_a_clean_slate():
    assert os.getcwd() == START
    assert "/nonexistent" not in sys.path
    assert "DBTEST_LEAK" not in os.environ
    assert "HOME" in os.environ
    assert "made_up_module" not in sys.modules
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root), cwd=root)
    assert run.last_line.startswith("2 passed, 0 failed"), run


def test_module_fixture_state_is_kept(project):
    root = project(
        {
            "test_fix.py": """
import os

def setup_module():
    os.environ["FROM_SETUP_MODULE"] = "yes"

def test_1():
    assert os.environ["FROM_SETUP_MODULE"] == "yes"

def test_2():
    assert os.environ["FROM_SETUP_MODULE"] == "yes"
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root))
    assert run.last_line.startswith("2 passed, 0 failed"), run


def test_modules_an_import_hook_provides_stay_loaded(project):
    # As an editable install's finder does: `mylib` lives outside sys.path and is
    # found by a hook in sys.meta_path. Found again at the same place after the
    # test, it must stay, or the next test gets a second copy of its classes.
    root = project(
        {
            "outside/mylib/__init__.py": "",
            "outside/mylib/sub.py": "class Thing:\n    pass\n",
            "proj/test_hooked.py": """
import importlib.machinery
import importlib.util
import pathlib
import sys
import unittest

OUTSIDE = pathlib.Path(__file__).parent.parent / "outside"


class Finder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "mylib":
            return importlib.util.spec_from_file_location(
                name, OUTSIDE / "mylib" / "__init__.py", submodule_search_locations=[str(OUTSIDE / "mylib")]
            )
        return None


sys.meta_path.append(Finder)


class Hooked(unittest.TestCase):
    def test_a_imports_it_lazily(self):
        import mylib.sub

        Hooked.first = mylib.sub.Thing

    def test_b_sees_the_same_classes(self):
        import mylib.sub

        self.assertIs(mylib.sub.Thing, Hooked.first)

    def test_c_made_up_modules_still_go(self):
        import types

        sys.modules["made_up_module"] = types.ModuleType("made_up_module")

    def test_d_after_made_up(self):
        self.assertNotIn("made_up_module", sys.modules)
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root / "proj"), cwd=root / "proj")
    assert run.last_line.startswith("4 passed, 0 failed"), run


def test_a_worker_holds_no_spare_copies_of_its_descriptors(project, tmp_path):
    # Each pipe or file a worker has open is held once; the capture files twice
    # (as fd 1/2 and as the worker's own handle, which survives a test that
    # closes or replaces fd 1/2). Copies of the output pipe nothing reads leak.
    listing = tmp_path / "fds.txt"
    root = project(
        {
            "test_fds.py": f"""
import os

def test_list_open_descriptors():
    lines = []
    for name in os.listdir("/proc/self/fd"):
        try:
            lines.append(name + " " + os.readlink("/proc/self/fd/" + name))
        except OSError:  # the listing's own descriptor
            pass
    with open({str(listing)!r}, "w") as out:
        out.write("\\n".join(lines))
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root))
    assert run.code == 0, run
    held: dict[str, list[int]] = {}
    for line in listing.read_text().splitlines():
        fd, target = line.split(" ", 1)
        if target != "/dev/null" and not target.endswith(str(listing)):
            held.setdefault(target, []).append(int(fd))

    def is_capture(target: str) -> bool:
        return target.endswith(("/worker-1.stdout", "/worker-1.stderr"))

    spare = {target: fds for target, fds in held.items() if len(fds) > (2 if is_capture(target) else 1)}
    assert not spare, f"held more than once: {spare}"
    captures = sorted(sorted(fds) for target, fds in held.items() if is_capture(target))
    assert [fds[0] for fds in captures] == [1, 2], captures
    # The worker's own files (capture files, thread-dump file) are out of the tests' way.
    own = [fd for target, fds in held.items() if "/dbtest-run-" in target for fd in fds if fd > 2]
    assert len(own) == 3 and min(own) >= 200, held
