"""End-to-end: what module- and class-scoped set-up does lasts for every test
under it (environment variables, child processes), what a test does is undone
for the next, and what a scope did is undone when it is torn down."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import run_dbtest

# Each test checks the scope's variable and child, and leaves changes of its own
# that the next test must not see.
_CHECKS = """
    def test_1(self):
        check(self)

    def test_2(self):
        check(self)

    def test_3(self):
        check(self)
"""

_HELPERS = """
import os, subprocess, sys

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False

def start_child():
    return subprocess.Popen(["sleep", "30"])

def check(owner):
    assert os.environ.get("SCOPE_VAR") == "set-up", "the scope's variable is gone"
    assert alive(owner.child.pid), "the scope's child process was killed"
    assert "TEST_VAR" not in os.environ, "a previous test's variable leaked"
    assert "/from-a-test" not in sys.path, "a previous test's sys.path entry leaked"
    os.environ["TEST_VAR"] = "leak"
    os.environ["SCOPE_VAR"] = "changed by a test"
    sys.path.insert(0, "/from-a-test")
"""


def _counts(run) -> str:
    return run.last_line.split(" in ")[0]


def test_module_set_up_lasts_for_every_test_of_the_module(project):
    root = project(
        {
            "test_module_scope.py": _HELPERS
            + """
class Holder:
    child = None

def setUpModule():
    os.environ["SCOPE_VAR"] = "set-up"
    Holder.child = start_child()

def tearDownModule():
    Holder.child.kill()
    Holder.child.wait()

def test_1():
    check(Holder)

def test_2():
    check(Holder)

def test_3():
    check(Holder)
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root))
    assert _counts(run) == "3 passed, 0 failed", run
    assert "killed child process" not in run.stdout, run


def test_class_set_up_lasts_for_every_test_of_the_class_in_each_style(project):
    root = project(
        {
            "test_class_scope.py": _HELPERS
            + """
import unittest
from dbtest import TestSuite, test


class TestUnittest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ["SCOPE_VAR"] = "set-up"
        cls.child = start_child()

    @classmethod
    def tearDownClass(cls):
        cls.child.kill()
        cls.child.wait()
"""
            + _CHECKS
            + """

class TestPlain:
    @classmethod
    def setup_class(cls):
        os.environ["SCOPE_VAR"] = "set-up"
        cls.child = start_child()

    @classmethod
    def teardown_class(cls):
        cls.child.kill()
        cls.child.wait()
"""
            + _CHECKS
            + """

class Suite(TestSuite):
    def setup_suite(self):
        os.environ["SCOPE_VAR"] = "set-up"
        type(self).child = start_child()

    def teardown_suite(self):
        self.child.kill()
        self.child.wait()

    @test
    def one(self):
        check(self)

    @test
    def two(self):
        check(self)

    @test
    def three(self):
        check(self)
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root))
    assert _counts(run) == "9 passed, 0 failed", run
    assert "killed child process" not in run.stdout, run


def test_a_scope_s_own_changes_are_undone_when_it_is_torn_down(project):
    # Symmetric, so that it holds whichever module and class run first.
    module = """
import os

def setup_module():
    os.environ["MODULE_{me}"] = "1"

class Test{me}One:
    @classmethod
    def setup_class(cls):
        os.environ["CLASS_{me}_ONE"] = "1"
        os.chdir("/")

    def test_one(self):
        assert "MODULE_{other}" not in os.environ
        assert "CLASS_{me}_TWO" not in os.environ
        assert os.environ["CLASS_{me}_ONE"] == "1" and os.getcwd() == "/"

class Test{me}Two:
    @classmethod
    def setup_class(cls):
        os.environ["CLASS_{me}_TWO"] = "1"

    def test_two(self):
        assert "MODULE_{other}" not in os.environ
        assert "CLASS_{me}_ONE" not in os.environ
        assert os.getcwd() != "/"
        assert os.environ["MODULE_{me}"] == "1"
"""
    root = project(
        {
            "test_a.py": module.format(me="A", other="B"),
            "test_b.py": module.format(me="B", other="A"),
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root), cwd=root)
    assert _counts(run) == "4 passed, 0 failed", run


def test_import_time_changes_last_for_the_whole_worker(project):
    # As under pytest, which imports every module before running anything: what
    # a module does as it is imported is not undone, even when another module's
    # tests run in between.
    root = project(
        {
            "test_a_env.py": """
import os

os.environ["FROM_IMPORT"] = "1"

def setup_module():
    pass

def test_sees_it():
    assert os.environ["FROM_IMPORT"] == "1"
""",
            "test_b_other.py": """
import os

def test_sees_it_too():
    assert os.environ["FROM_IMPORT"] == "1"
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root), cwd=root)
    assert _counts(run) == "2 passed, 0 failed", run


ORDER = """
import os

def note(event):
    with open(os.environ["ORDER_LOG"], "a") as log:
        log.write(event + "\\n")

def setup_module(module):
    note("setup_module " + module.__name__)

def teardown_module(module):
    note("teardown_module")

def setup_function(function):
    note("setup_function " + function.__name__)

def teardown_function(function):
    note("teardown_function " + function.__name__)

def test_f1():
    note("test_f1")

def test_f2():
    note("test_f2")

class TestA:
    @classmethod
    def setup_class(cls):
        note("setup_class A")

    @classmethod
    def teardown_class(cls):
        note("teardown_class A")

    def setup_method(self, method):
        note("setup_method " + method.__name__)

    def teardown_method(self, method):
        note("teardown_method " + method.__name__)

    def test_a1(self):
        note("test_a1")

    def test_a2(self):
        note("test_a2")

class TestB:
    @classmethod
    def setup_class(cls):
        note("setup_class B")

    @classmethod
    def teardown_class(cls):
        note("teardown_class B")

    def test_b1(self):
        note("test_b1")
"""


def test_xunit_hooks_run_in_pytests_order(project, tmp_path):
    root = project({"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/test_order.py": ORDER})
    ours, theirs = tmp_path / "ours.log", tmp_path / "theirs.log"
    run = run_dbtest("-j", "1", "--no-cache", str(root), env={"ORDER_LOG": str(ours)})
    assert _counts(run) == "5 passed, 0 failed", run
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
        env={**os.environ, "ORDER_LOG": str(theirs)},
        cwd=root,
        capture_output=True,
        check=True,
    )
    assert ours.read_text().splitlines() == theirs.read_text().splitlines()
    assert ours.read_text().splitlines()[0] == "setup_module pkg.sub.test_order"


def test_a_failed_set_up_errors_each_test_under_it_and_runs_once(project, tmp_path):
    log = tmp_path / "calls.log"
    root = project(
        {
            "test_broken_module.py": f"""
def setup_module():
    open({str(log)!r}, "a").write("setup_module\\n")
    raise RuntimeError("module set-up broke")

def teardown_module():
    open({str(log)!r}, "a").write("teardown_module must not run\\n")

def test_1():
    pass

class TestInside:
    @classmethod
    def setup_class(cls):
        open({str(log)!r}, "a").write("setup_class under a broken module must not run\\n")

    def test_2(self):
        pass
""",
            "test_broken_class.py": f"""
class TestBroken:
    @classmethod
    def setup_class(cls):
        open({str(log)!r}, "a").write("setup_class\\n")
        raise RuntimeError("class set-up broke")

    @classmethod
    def teardown_class(cls):
        open({str(log)!r}, "a").write("teardown_class must not run\\n")

    def test_1(self):
        pass

    def test_2(self):
        pass

def test_outside():
    pass
""",
        }
    )
    # No rerun alone of the errors: each set-up must have run once.
    run = run_dbtest("-j", "1", "--no-cache", "--rerun-alone", "0", str(root))
    assert _counts(run) == "1 passed, 0 failed, 4 errors", run
    assert run.stdout.count("RuntimeError: module set-up broke") >= 2, run
    assert run.stdout.count("RuntimeError: class set-up broke") >= 2, run
    assert sorted(log.read_text().splitlines()) == ["setup_class", "setup_module"]


def test_teardown_errors_are_reported_under_the_scope_s_name(project):
    root = project(
        {
            "test_teardowns.py": """
import unittest

def tearDownModule():
    raise RuntimeError("tearDownModule broke")

class TestPlain:
    @classmethod
    def teardown_class(cls):
        raise RuntimeError("teardown_class broke")

    def test_a(self):
        pass

class Case(unittest.TestCase):
    @classmethod
    def tearDownClass(cls):
        raise RuntimeError("tearDownClass broke")

    def test_b(self):
        pass
""",
        }
    )
    run = run_dbtest("-j", "1", "-v", "--no-cache", str(root), cwd=root)
    assert _counts(run) == "2 passed, 0 failed, 3 errors", run
    for name in ("test_teardowns.py::tearDownModule", "test_teardowns.py::TestPlain::teardown_class"):
        assert f"ERROR    {name}" in run.stdout, (name, run)
    assert "ERROR    test_teardowns.py::Case::tearDownClass" in run.stdout, run


def test_what_set_up_before_a_failing_hook_is_torn_down_as_under_pytest(project, tmp_path):
    # setUpClass succeeded, pytest's setup_class then failed: unittest's
    # teardown and class cleanups still run (not teardown_class).
    ours, theirs = tmp_path / "ours.log", tmp_path / "theirs.log"
    root = project(
        {
            "test_partial.py": """
import os, unittest

def note(event):
    with open(os.environ["ORDER_LOG"], "a") as log:
        log.write(event + "\\n")

class Case(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        note("setUpClass")
        cls.addClassCleanup(note, "class cleanup")

    @classmethod
    def setup_class(cls):
        note("setup_class")
        raise RuntimeError("setup_class broke")

    @classmethod
    def teardown_class(cls):
        note("teardown_class")

    @classmethod
    def tearDownClass(cls):
        note("tearDownClass")

    def test_a(self):
        note("test_a")
""",
        }
    )
    run = run_dbtest("-j", "1", "--no-cache", str(root), env={"ORDER_LOG": str(ours)})
    assert _counts(run) == "0 passed, 0 failed, 1 error", run
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
        env={**os.environ, "ORDER_LOG": str(theirs)},
        cwd=root,
        capture_output=True,
    )
    assert ours.read_text().splitlines() == theirs.read_text().splitlines()
    assert ours.read_text().splitlines() == ["setUpClass", "setup_class", "tearDownClass", "class cleanup"]
