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
