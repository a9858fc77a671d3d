"""End-to-end: tests that do what a worker must survive — strings UTF-8 cannot
carry, closed descriptors, crashes mid-output — each cost at most their own
result, and the report shows what they said."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_dbtest

SURROGATES = """
import os, sys, warnings
import pytest

BAD = os.fsdecode(b"bad\\xffname")  # a lone surrogate, as non-UTF-8 file names give

def test_exception():
    raise ValueError(BAD)

def test_assertion():
    assert BAD == "x", BAD

def test_skip():
    pytest.skip(BAD)

@pytest.mark.xfail(reason=BAD)
def test_xfail_mark():
    assert 0

def test_xfail_call():
    pytest.xfail(BAD)

def test_output():
    sys.stderr.write(BAD + "\\n")
    warnings.warn(BAD)
    assert 0

def test_subtest(subtests):
    with subtests.test(msg=BAD):
        assert 0, BAD

@pytest.fixture(scope="module")
def broken_teardown():
    yield
    raise RuntimeError(BAD)

def test_teardown(broken_teardown):
    pass
"""


def test_lone_surrogates_in_messages_and_output_are_reported_escaped(project, tmp_path: Path) -> None:
    root = project({"test_surrogates.py": SURROGATES})
    report = tmp_path / "report.json"
    run = run_dbtest("-j", "1", "--no-cache", "--json", str(report), str(root))
    assert "internal error" not in run.stdout + run.stderr, run
    assert "crashed" not in run.stdout, run
    assert run.code == 1, run
    tests = {t["id"].split("::", 1)[1]: t for t in json.loads(report.read_text())["tests"]}
    escaped = "bad\\udcffname"
    assert tests["test_exception"]["outcome"] == "failed"
    assert escaped in tests["test_exception"]["message"]
    assert escaped in tests["test_assertion"]["message"]
    assert tests["test_skip"]["outcome"] == "skipped"
    assert escaped in tests["test_skip"]["message"]
    assert tests["test_xfail_mark"]["outcome"] == "xfailed"
    assert tests["test_xfail_call"]["outcome"] == "xfailed"
    assert escaped in tests["test_output"]["stderr"]
    assert f"UserWarning: {escaped}" in tests["test_output"]["stderr"]
    assert tests["test_teardown"]["outcome"] == "passed"
    assert escaped in run.stdout  # the subtest's and the teardown's


def test_printing_a_lone_surrogate_captures_it_escaped_whatever_the_locale(project, tmp_path: Path) -> None:
    test = 'import os\n\ndef test_prints():\n    print(os.fsdecode(b"bad\\xffname"))\n    assert 0\n'
    root = project({"test_prints.py": test})
    report = tmp_path / "report.json"
    # PYTHONIOENCODING makes stdout strict, as a UTF-8 locale other than C.UTF-8 does.
    run = run_dbtest("--no-cache", "--json", str(report), str(root), env={"PYTHONIOENCODING": "utf-8"})
    assert run.last_line.startswith("0 passed, 1 failed"), run
    (result,) = json.loads(report.read_text())["tests"]
    assert result["message"] == "AssertionError: assert 0", result
    assert result["stdout"] == "bad\\udcffname\n", result


def test_every_message_the_worker_sends_carries_lone_surrogates_escaped() -> None:
    import msgpack

    from dbtest.worker import protocol

    bad = "bad\udcffname"
    message = protocol.result(1, 0, "failed", "call", None, 0.1, bad, bad, bad, None, 0, [], [bad])
    message["subtests"] = [protocol.subtest_failure(bad, "failed", bad, None)]
    decoded = msgpack.unpackb(protocol.encode(message)[4:], raw=False)
    assert decoded["message"] == decoded["stdout"] == "bad\\udcffname"
    assert decoded["warnings"] == ["bad\\udcffname"]
    assert decoded["subtests"][0]["description"] == "bad\\udcffname"
    # Clean messages are packed as they were, and the packer is left usable.
    clean = protocol.batch_done(3)
    assert msgpack.unpackb(protocol.encode(clean)[4:], raw=False) == clean


CLOSES_DESCRIPTORS = """
import os

def test_closes_low_descriptors():
    for fd in range(3, 64):
        try:
            os.close(fd)
        except OSError:
            pass
    print("captured after closing 3-63")
    assert 0

def test_closes_every_descriptor_it_can():
    os.closerange(3, 65536)
    print("captured after closerange")
    assert 0

def test_runs_after_them():
    print("captured in the same worker")
    assert 0
"""


def test_tests_that_close_descriptors_do_not_take_the_worker_with_them(project, tmp_path: Path) -> None:
    root = project({"test_fds.py": CLOSES_DESCRIPTORS})
    for jobs in ("1", "2"):
        report = tmp_path / f"report-{jobs}.json"
        run = run_dbtest("-j", jobs, "--no-cache", "--json", str(report), str(root))
        assert run.last_line.startswith("0 passed, 3 failed in"), run
        tests = {t["id"].split("::", 1)[1]: t for t in json.loads(report.read_text())["tests"]}
        assert tests["test_closes_low_descriptors"]["stdout"] == "captured after closing 3-63\n"
        assert tests["test_closes_every_descriptor_it_can"]["stdout"] == "captured after closerange\n"
        assert tests["test_runs_after_them"]["stdout"] == "captured in the same worker\n"
        assert {t["worker"] for t in tests.values()} == {1} or jobs == "2"


DIES = """
import ctypes, os, sys, time

def test_segfaults():
    print("printed before the segfault", flush=True)
    os.write(2, b"raw stderr before the segfault\\n")
    ctypes.string_at(0)

def test_exits():
    sys.stdout.write("printed before os._exit\\n")
    sys.stdout.flush()
    os._exit(3)

def test_hangs():
    print("printed before hanging", flush=True)
    time.sleep(60)

def test_passes():
    print("not shown")
"""


def test_a_crashed_or_timed_out_tests_output_is_shown(project, tmp_path: Path) -> None:
    root = project({"test_dies.py": DIES})
    report = tmp_path / "report.json"
    run = run_dbtest("-j", "1", "--no-cache", "--timeout", "2", "--json", str(report), str(root))
    assert run.last_line.startswith("1 passed, 0 failed, 3 errors in"), run
    tests = {t["id"].split("::", 1)[1]: t for t in json.loads(report.read_text())["tests"]}
    assert tests["test_segfaults"]["stdout"] == "printed before the segfault\n"
    assert tests["test_segfaults"]["stderr"].startswith("raw stderr before the segfault\n")
    assert tests["test_exits"]["stdout"] == "printed before os._exit\n"
    assert tests["test_hangs"]["stdout"] == "printed before hanging\n"
    assert tests["test_hangs"]["error_kind"] == "timeout"
    assert "printed before the segfault" in run.stdout and "printed before hanging" in run.stdout
