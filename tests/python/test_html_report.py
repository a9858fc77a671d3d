"""`--html FILE`: one self-contained page, checked in a real browser (headless
Chromium, Debian's `chromium` package, which scripts/test installs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .browser import Page, chromium_executable
from .conftest import REPO, run_dbtest

ARTIFACTS = REPO / "target" / "test-artifacts"

# 1,000 tests over 10 modules: passes, failures, errors, skips, xfails, one
# flaky test (fails, then passes on its retry), one that prints markup, and
# some that take a few milliseconds so that the timeline has bars to see.
MODULE = """\
import os
import time

import pytest


@pytest.mark.parametrize("n", range(95))
def test_case(n):
    if n % 7 == 0:
        time.sleep(0.004)
    assert n >= 0


def test_fails_{index}():
    print("captured line of test_fails_{index}")
    assert {index} + 1 == 0


def test_errors_{index}(tmp_path):
    raise RuntimeError("broken {index}")


@pytest.mark.skip(reason="not today")
def test_skipped_{index}():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfails_{index}():
    assert False


def test_slow_{index}():
    time.sleep(0.05 + {index} * 0.01)
"""

FLAKY = """\
from pathlib import Path


def test_flaky():
    marker = Path(__file__).with_name("flaky-marker")
    if not marker.exists():
        marker.write_text("failed once")
        assert False, "first attempt fails"


def test_prints_markup():
    print("<script>window.__injected = 1</script><b>not bold</b>")
    assert False, "</script><img src=x onerror=alert(1)>"
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    executable = chromium_executable()
    if executable is None:
        pytest.skip("headless Chromium is not installed (scripts/test installs the Debian package chromium)")
    return executable


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("html-project")
    for index in range(10):
        (root / f"test_module_{index}.py").write_text(MODULE.replace("{index}", str(index)))
    (root / "test_flaky.py").write_text(FLAKY)
    report = root / "report.html"
    run = run_dbtest("-j", "2", "--retries", "1", "--html", str(report), "--json", "report.json", cwd=root, timeout=600)
    assert run.code == 1, run
    assert report.is_file(), run
    return root, report


def test_the_page_is_one_self_contained_file_with_the_run_inside(big_run: tuple[Path, Path]) -> None:
    root, report = big_run
    page = report.read_text()
    data = json.loads((root / "report.json").read_text())
    assert data["totals"]["flaky"] == 1
    assert len(data["tests"]) == 1002
    assert all(t["start"] is not None for t in data["tests"] if t["worker"])
    assert "http://" not in page and "https://" not in page and " src=" not in page.replace("src=x", "")
    # What the test printed is data, never markup: two script elements only.
    assert page.count("<script") == 2
    assert "<b>not bold</b>" not in page


def test_the_page_renders_in_chromium_with_a_working_filter(chromium: str, big_run: tuple[Path, Path]) -> None:
    root, report = big_run
    with Page(chromium) as page:
        page.open(report)
        assert page.evaluate("document.documentElement.getAttribute('data-ready')") == "true"
        assert page.console_errors() == []
        counts = page.evaluate("document.getElementById('counts').innerText")
        assert "1002" in counts and "flaky" in counts, counts
        # A lane per worker, a bar per test that ran on one.
        lanes = page.evaluate("Array.from(document.querySelectorAll('.lane-name')).map(e => e.textContent)")
        assert lanes == ["worker 1", "worker 2"], lanes
        assert page.evaluate("document.querySelectorAll('.bar').length") >= 970
        title = page.evaluate("document.querySelector('.bar[data-id$=test_slow_9]').getAttribute('title')")
        assert title.startswith("test_module_9.py::test_slow_9 — 1") and title.endswith("ms (passed)"), title
        # Flaky and retried tests are marked.
        assert page.evaluate("document.querySelector('tr[data-outcome=flaky]').innerText").count("retried") == 1
        # Output is shown as text: the markup a test printed did not run.
        assert page.evaluate("typeof window.__injected") == "undefined"
        shown = page.evaluate("Array.from(document.querySelectorAll('#failures pre')).map(p => p.textContent).join()")
        assert "<script>window.__injected = 1</script><b>not bold</b>" in shown
        assert "captured line of test_fails_3" in shown and "Traceback" in shown
        page.screenshot(ARTIFACTS / "html-report.png")
        visible = "document.querySelectorAll('tr.test[data-outcome=%s]:not([hidden])').length"
        assert page.evaluate(visible % "passed") > 900
        page.evaluate("document.getElementById('filter-passed').click()")
        assert page.evaluate(visible % "passed") == 0
        assert page.evaluate(visible % "failed") == 21  # an exception in a test is a failure, as in pytest
        # The search narrows by id.
        page.evaluate(
            "const s = document.getElementById('search'); s.value = 'module_3';s.dispatchEvent(new Event('input'))"
        )
        assert page.evaluate(visible % "failed") == 2
        page.evaluate(
            "const t = document.getElementById('search'); t.value = ''; t.dispatchEvent(new Event('input'));"
            "window.scrollTo(0, 0)"
        )
        page.screenshot(ARTIFACTS / "html-report-passed-hidden.png")
        assert page.console_errors() == []
    for shot in ("html-report.png", "html-report-passed-hidden.png"):
        assert (ARTIFACTS / shot).stat().st_size > 10_000


def test_merge_draws_the_shards_on_one_timeline(chromium: str, project) -> None:
    root = project({f"test_{m}.py": "".join(f"def test_{i}():\n    pass\n" for i in range(20)) for m in "abcd"})
    for shard in (1, 2):
        run = run_dbtest("-j", "2", "--shard", f"{shard}/2", "--json", f"shard{shard}.json", cwd=root)
        assert run.code == 0, run
    merged = run_dbtest("merge", "shard1.json", "shard2.json", "--html", "merged.html", cwd=root)
    assert merged.code == 0, merged
    with Page(chromium) as page:
        page.open(root / "merged.html")
        assert page.console_errors() == []
        lanes = page.evaluate("Array.from(document.querySelectorAll('.lane-name')).map(e => e.textContent)")
        assert {lane.split(" · ")[0] for lane in lanes} == {"shard 1", "shard 2"}, lanes
        assert page.evaluate("document.querySelectorAll('tr.test').length") == 80
