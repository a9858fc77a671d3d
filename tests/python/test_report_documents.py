"""The report documents as consumers see them: merged JSON shard reports, JUnit XML read by
``xml.etree.ElementTree`` (as CI importers do), Markdown, and merged durations files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from dbtest import _core


def make_result(test_id: str, outcome: str, **extra: Any) -> dict[str, Any]:
    failing = outcome in ("failed", "error")
    return {
        "id": test_id,
        "outcome": outcome,
        "phase": "call",
        "error_kind": "exception" if outcome == "error" else None,
        "duration": 0.5,
        "worker": 1,
        "attempts": 1,
        "flaky": False,
        "message": "AssertionError: 1 != 2 <&>" if failing else None,
        "traceback": "Traceback (most recent call last):\nAssertionError: 1 != 2\n" if failing else None,
        "stdout": None,
        "stderr": None,
        **extra,
    }


def report(
    shard: tuple[int, int] | None, tests: list[dict[str, Any]], started: str = "2026-05-01T12:00:00.000Z"
) -> str:
    totals = {key: 0 for key in ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "flaky")}
    for test in tests:
        totals["errors" if test["outcome"] == "error" else test["outcome"]] += 1
    document = {
        "schema": "dbtest-report",
        "version": 1,
        "run": {
            "started_at": started,
            "duration": 2.0,
            "workers": 2,
            "shard": None if shard is None else {"index": shard[0], "total": shard[1]},
            "interrupted": False,
            "not_run": 0,
            "dbtest_version": "0.1.0",
            "python": "3.12.0",
        },
        "totals": totals,
        "tests": tests,
    }
    return json.dumps(document)


def test_merge_combines_shards_in_shard_order() -> None:
    merged = json.loads(
        _core.merge_reports(
            [
                report((2, 2), [make_result("b.py::test_b", "failed")], "2026-05-01T12:00:01.000Z"),
                report((1, 2), [make_result("a.py::test_a", "passed")]),
            ]
        )
    )
    assert merged["schema"] == "dbtest-report"
    assert merged["run"]["shard"] is None
    assert merged["run"]["workers"] == 4
    assert merged["run"]["duration"] == pytest.approx(3.0)
    assert [t["id"] for t in merged["tests"]] == ["a.py::test_a", "b.py::test_b"]
    assert merged["totals"]["passed"] == 1
    assert merged["totals"]["failed"] == 1


def test_merge_names_missing_shards_and_duplicates() -> None:
    with pytest.raises(ValueError, match="missing shard 3/4"):
        _core.merge_reports([report((i, 4), [make_result(f"t{i}.py::t", "passed")]) for i in (1, 2, 4)])
    with pytest.raises(ValueError, match="test a.py::t appears in both report 1 and report 2"):
        _core.merge_reports(
            [report((1, 2), [make_result("a.py::t", "passed")]), report((2, 2), [make_result("a.py::t", "passed")])]
        )
    with pytest.raises(ValueError, match="the totals differ"):
        _core.merge_reports([report((1, 2), []), report((2, 3), [])])
    with pytest.raises(ValueError, match="report 2: not a dbtest JSON report"):
        _core.merge_reports([report(None, []), "{}"])


def test_junit_parses_with_element_tree_and_carries_the_counts() -> None:
    document = report(
        (1, 2),
        [
            make_result("tests/test_a.py::test_ok", "passed", stdout="\x1b[31mred\x1b[0m"),
            make_result("tests/test_a.py::TestX::test_bad", "failed"),
            make_result("tests/test_a.py::test_err", "error"),
            make_result("tests/test_a.py::test_skip", "skipped", message="not today"),
            make_result("tests/test_a.py::test_xfail", "xfailed"),
        ],
    )
    root = ET.fromstring(_core.render_report(document, "junit"))
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    counts = [suite.get(name) for name in ("tests", "failures", "errors", "skipped")]
    assert counts == ["5", "1", "1", "2"]
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["test_ok", "test_bad", "test_err", "test_skip", "test_xfail"]
    assert cases[1].get("classname") == "tests.test_a.TestX"
    assert cases[1].get("file") == "tests/test_a.py"
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "AssertionError: 1 != 2 <&>"
    assert "Traceback" in (failure.text or "")
    assert cases[0].findtext("system-out") == "red"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["shard"] == "1/2"


def test_markdown_has_a_summary_and_failure_details() -> None:
    document = report(None, [make_result("a.py::test_ok", "passed"), make_result("a.py::test_bad", "failed")])
    text = _core.render_report(document, "markdown")
    assert text.startswith("## ❌ dbtest: 1 passed, 1 failed in 2.00s")
    assert "<summary><code>a.py::test_bad</code> — failed" in text
    assert "```text\nTraceback" in text
    with pytest.raises(ValueError, match="unknown report format"):
        _core.render_report(document, "html")


def test_durations_files_merge() -> None:
    first = json.dumps({"version": 1, "durations": {"a": 1.0, "both": 1.0}})
    second = json.dumps({"version": 1, "durations": {"b": 2.0, "both": 2.0}})
    merged = json.loads(_core.merge_durations([first, second]))
    assert merged == {"version": 1, "durations": {"a": 1.0, "b": 2.0, "both": 2.0}}
    with pytest.raises(ValueError, match="durations file 1: unsupported durations format version 2"):
        _core.merge_durations([json.dumps({"version": 2})])


def test_junit_is_well_formed_whatever_characters_the_tests_printed() -> None:
    # XML 1.0 allows neither controls nor U+FFFE/U+FFFF, in text or attributes.
    odd = "a\ufffeb\uffffc\x00d\x1be\U0001fffef"
    document = report(
        None,
        [
            make_result(f"tests/test_a.py::test_odd[{odd}]", "failed", message=odd, stdout=odd, stderr=odd),
            make_result("tests/test_a.py::test_skip", "skipped", message=odd),
        ],
    )
    root = ET.fromstring(_core.render_report(document, "junit"))
    cases = root.iter("testcase")
    failed = next(cases)
    failure = failed.find("failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert message.startswith("a") and message.endswith("\U0001fffef")
    assert "\ufffe" not in message and "\uffff" not in message
    assert failed.findtext("system-out", "").startswith("a")
