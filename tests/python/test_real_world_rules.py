"""Collection and scheduling rules real suites depend on (found by running
third-party suites: pyparsing, more-itertools, idna, simplejson, markdown...)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import run_dbtest


def test_a_testcase_with_only_run_test_is_one_test(project):
    root = project(
        {
            "test_rt.py": """
import unittest

class Enable(unittest.TestCase):
    def runTest(self):
        pass

class Plain(unittest.TestCase):
    def runTest(self):
        raise AssertionError("not run: the class has test methods")

    def test_a(self):
        pass
""",
        }
    )
    listed = run_dbtest("list", str(root)).stdout.split()
    assert [t.rsplit("/", 1)[-1] for t in listed] == ["test_rt.py::Enable::runTest", "test_rt.py::Plain::test_a"]
    assert run_dbtest("--no-cache", str(root)).last_line.startswith("2 passed, 0 failed")


def test_the_projects_own_tests_package_wins_over_one_already_on_sys_path(project):
    root = project(
        {
            "other/tests/__init__.py": "",
            "proj/tests/__init__.py": "",
            "proj/tests/test_own.py": "def test_own():\n    pass\n",
            "proj/pyproject.toml": "[project]\nname = 'proj'\n",
        }
    )
    env = {"PYTHONPATH": f"{root / 'other'}:{root / 'proj'}"}
    run = run_dbtest("--no-cache", str(root / "proj"), env=env)
    assert run.last_line.startswith("1 passed, 0 failed"), run


def test_classes_that_inherit_from_each_other_run_in_file_order_on_one_worker(project):
    body = """
import os, unittest

STATE = {}

class Test1Base(unittest.TestCase):
    def test_base(self):
        pass

class Test2Enable(unittest.TestCase):
    def runTest(self):
        STATE["enabled"] = os.getpid()

class Test3Derived(Test1Base):
    def test_sees_state(self):
        self.assertEqual(STATE.get("enabled"), os.getpid())
"""
    body += "".join(f"\ndef test_free_{i}():\n    pass\n" for i in range(40))
    root = project({"test_coupled.py": body})
    for _ in range(3):
        run = run_dbtest("-j", "2", str(root), cwd=root)
        assert run.last_line.startswith("44 passed, 0 failed"), run


def test_the_invocation_directory_is_importable_as_under_python_m_pytest(project):
    root = project(
        {
            "mypkg/__init__.py": "VALUE = 42\n",
            "mypkg/tests/test_value.py": "import mypkg\n\ndef test_value():\n    assert mypkg.VALUE == 42\n",
        }
    )
    run = run_dbtest("--no-cache", "mypkg/tests", cwd=root)
    assert run.last_line.startswith("1 passed, 0 failed"), run


def test_pytest_skip_marks_are_honoured_at_run_time(project):
    root = project(
        {
            "test_marks.py": """
import sys
import unittest

import pytest

pytestmark = pytest.mark.slow

@pytest.mark.skipif(sys.version_info < (99,), reason="needs Python 99")
def test_future():
    raise AssertionError("must not run")

@pytest.mark.skipif("sys.platform != 'nowhere'", reason="string condition")
def test_string_condition():
    raise AssertionError("must not run")

@pytest.mark.skipif(False, reason="never")
def test_runs():
    pass

@pytest.mark.skipif("undefined_name", reason="broken")
def test_broken_condition():
    pass

class Case(unittest.TestCase):
    @pytest.mark.skipif(True, reason="on a TestCase method")
    def test_skipped(self):
        raise AssertionError("must not run")
""",
        }
    )
    run = run_dbtest("--no-cache", "-v", str(root))
    assert run.last_line.startswith("1 passed, 0 failed, 1 error, 3 skipped"), run


XFAIL_MARKS = """
import sys
import unittest

import pytest

@pytest.mark.xfail(reason="known bug")
def test_fails_as_expected():
    assert 1 == 2

@pytest.mark.xfail(reason="fixed since")
def test_passes_anyway():
    pass

@pytest.mark.xfail(strict=True, reason="must fail")
def test_strict_xpass():
    pass

@pytest.mark.xfail(raises=KeyError)
def test_raises_the_expected_error():
    {}["missing"]

@pytest.mark.xfail(raises=KeyError)
def test_raises_another_error():
    raise ValueError("not the expected one")

@pytest.mark.xfail(sys.platform == "nowhere", reason="condition false")
def test_condition_false_so_it_is_a_plain_failure():
    assert False

@pytest.mark.xfail("sys.version_info > (3,)", reason="string condition")
def test_string_condition():
    assert False

@pytest.mark.xfail(run=False, reason="would hang")
def test_not_run():
    raise AssertionError("must not run")

class Case(unittest.TestCase):
    @pytest.mark.xfail(reason="on a TestCase method")
    def test_method(self):
        self.assertEqual(1, 2)
"""


def _run_pytest(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
        capture_output=True,
        text=True,
        cwd=root,
    )


def _summary_counts(line: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)", line):
        key = "error" if word.startswith("error") else word
        counts[key] = counts.get(key, 0) + int(number)
    return {k: v for k, v in counts.items() if v}


def test_pytest_xfail_marks_give_pytests_counts(project):
    root = project({"test_xfail.py": XFAIL_MARKS})
    ours = run_dbtest("--no-cache", "-v", str(root))
    theirs = _run_pytest(root)
    mine = _summary_counts(ours.last_line)
    pytests = _summary_counts(theirs.stdout.strip().splitlines()[-1])
    assert pytests == {"failed": 3, "xfailed": 5, "xpassed": 1}, theirs.stdout
    assert mine == pytests, ours
    assert ours.code == 1, ours


def test_a_non_strict_xpass_does_not_fail_the_run_as_in_pytest(project):
    root = project(
        {"test_xpass.py": "import pytest\n\n@pytest.mark.xfail(reason='fixed since')\ndef test_fixed():\n    pass\n"}
    )
    run = run_dbtest("--no-cache", str(root))
    assert run.code == 0, run
    assert run.last_line.startswith("0 passed, 0 failed, 1 xpassed"), run
    assert "FAILURES" not in run.stdout, run


def test_a_module_that_skips_itself_at_import_is_one_skipped_result_as_in_pytest(project):
    root = project(
        {
            "test_optional.py": "import pytest\n\nnumpy = pytest.importorskip('no_such_module_here')\n\n"
            + "".join(f"def test_{i}():\n    pass\n\n" for i in range(5)),
            "test_unittest_skip.py": "import unittest\n\nraise unittest.SkipTest('not on this platform')\n\n"
            "class Case(unittest.TestCase):\n"
            "    def test_a(self):\n        pass\n\n"
            "    def test_b(self):\n        pass\n",
            "test_fine.py": "def test_fine():\n    pass\n",
        }
    )
    ours = run_dbtest("--no-cache", "-j", "2", "-v", str(root), cwd=root)
    assert ours.last_line.startswith("1 passed, 0 failed, 2 skipped"), ours
    assert "SKIPPED  test_optional.py " in ours.stdout, ours
    theirs = _run_pytest(root)
    assert _summary_counts(theirs.stdout.strip().splitlines()[-1]) == {"passed": 1, "skipped": 2}, theirs.stdout


def test_imperative_pytest_outcomes_inside_tests(project):
    root = project(
        {
            "test_imperative.py": """
import pytest

def test_skip():
    pytest.skip("not today")

def test_xfail():
    pytest.xfail("known")

def test_fail():
    pytest.fail("explicit")

def test_pass():
    pass
""",
        }
    )
    ours = run_dbtest("--no-cache", str(root))
    assert ours.last_line.startswith("1 passed, 1 failed, 1 skipped, 1 xfailed"), ours
    theirs = _run_pytest(root)
    assert _summary_counts(theirs.stdout.strip().splitlines()[-1]) == _summary_counts(ours.last_line), theirs.stdout


def test_skip_inside_a_subtest_skips_that_block_only(project):
    root = project(
        {
            "test_subskip.py": """
import unittest

class T(unittest.TestCase):
    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                if i == 0:
                    self.skipTest("skip only this block")
                self.assertEqual(i, 1)
""",
        }
    )
    ours = run_dbtest("--no-cache", "-v", str(root))
    theirs = _run_pytest(root)
    # The test itself passes; the i=0 block is skipped, i=2 failed, i=1 passed.
    assert ours.last_line.startswith("1 passed, 1 failed, 1 skipped, 1 subtests passed"), ours
    assert _summary_counts(theirs.stdout.strip().splitlines()[-1]) == _summary_counts(ours.last_line), theirs.stdout


def test_pytest_xunit_hooks_run_on_testcase_classes(project, tmp_path):
    log = tmp_path / "order.log"
    root = project(
        {
            "test_tc_xunit.py": f"""
import unittest

def note(event):
    with open({str(log)!r}, "a") as f:
        f.write(event + "\\n")

class T(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        note("setUpClass")

    @classmethod
    def setup_class(cls):
        note("setup_class")
        cls.shared = 1

    @classmethod
    def teardown_class(cls):
        note("teardown_class")

    @classmethod
    def tearDownClass(cls):
        note("tearDownClass")

    def setup_method(self, method):
        note("setup_method " + method.__name__)
        self.per_test = 2

    def teardown_method(self, method):
        note("teardown_method")

    def setUp(self):
        note("setUp")

    def test_class_level(self):
        assert self.shared == 1

    def test_method_level(self):
        assert self.per_test == 2
""",
        }
    )
    run = run_dbtest("--no-cache", "-j", "1", str(root))
    assert run.last_line.startswith("2 passed, 0 failed"), run
    ours = log.read_text().splitlines()
    log.unlink()
    _run_pytest(root)
    assert ours == log.read_text().splitlines(), "the same order as under pytest"
    assert ours[:4] == ["setUpClass", "setup_class", "setup_method test_class_level", "setUp"], ours
