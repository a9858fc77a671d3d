"""End-to-end CI features: sharding (explicit, auto, balanced), reports
(JUnit, JSON, Markdown), merging shard reports, pyproject configuration."""

from __future__ import annotations

import json
import platform
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import run_dbtest


@pytest.fixture(scope="module")
def big_suite(tmp_path_factory) -> Path:
    """5,000 trivial tests in 200 files of nested packages, plus a few classes."""
    root = tmp_path_factory.mktemp("big")
    (root / "pyproject.toml").write_text("[project]\nname = 'big'\n")
    for package in range(10):
        pkg = root / "tests" / f"pkg{package}"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        for module in range(20):
            body = "".join(f"def test_{i}():\n    pass\n\n" for i in range(22))
            body += "import unittest\n\nclass Shared(unittest.TestCase):\n"
            body += "    @classmethod\n    def setUpClass(cls):\n        pass\n\n"
            body += "".join(f"    def test_c{i}(self):\n        pass\n\n" for i in range(3))
            (pkg / f"test_mod{module}.py").write_text(body)
    (root / "tests" / "__init__.py").write_text("")
    return root


def listed(root: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    run = run_dbtest("list", *args, cwd=root, env=env)
    assert run.code == 0, run
    return run.stdout.split()


def test_four_shards_are_disjoint_and_cover_the_list(big_suite):
    everything = listed(big_suite)
    assert len(everything) == 5000
    shards = [listed(big_suite, "--shard", f"{k}/4") for k in range(1, 5)]
    union = [test for shard in shards for test in shard]
    assert len(union) == len(set(union)) == 5000
    assert set(union) == set(everything)
    for shard in shards:
        classes = {t.rsplit("::", 1)[0] for t in shard if "::Shared::" in t}
        for cls in classes:
            assert all(f"{cls}::test_c{i}" in shard for i in range(3)), "a class with setUpClass is not split"


def test_auto_shard_reads_the_ci_environment(big_suite):
    explicit = listed(big_suite, "--shard", "2/4")
    assert listed(big_suite, "--shard", "auto", env={"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "4"}) == explicit
    assert listed(big_suite, "--shard", "auto", env={"CIRCLE_NODE_INDEX": "1", "CIRCLE_NODE_TOTAL": "4"}) == explicit
    assert listed(big_suite, "--shard", "auto", env={"TEST_SHARD_INDEX": "1", "TEST_TOTAL_SHARDS": "4"}) == explicit
    assert len(listed(big_suite, "--shard", "auto")) == 5000, "no CI variables: everything"


@pytest.mark.parametrize("spec", ["5/4", "0/4", "2/0", "x/4", "1/"])
def test_bad_shard_specs_are_usage_errors(big_suite, spec):
    run = run_dbtest("list", "--shard", spec, cwd=big_suite)
    assert run.code == 4, run
    assert run.stderr.count("\n") == 1, run


def test_half_a_ci_pair_is_a_usage_error(big_suite):
    run = run_dbtest("list", "--shard", "auto", cwd=big_suite, env={"CI_NODE_INDEX": "2"})
    assert run.code == 4, run
    assert "CI_NODE_TOTAL" in run.stderr


def test_duration_shards_are_balanced_within_the_longest_test(big_suite, tmp_path):
    everything = listed(big_suite)
    rng = random.Random(7)
    durations = {test: rng.uniform(0.001, 2.0) for test in everything}
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "durations.json").write_text(json.dumps({"version": 1, "durations": durations}))
    sums = []
    for k in range(1, 5):
        shard = listed(big_suite, "--shard", f"{k}/4", "--cache-dir", str(cache))
        sums.append(sum(durations[t] for t in shard))
    # Classes move as a unit, so the bound is the longest unit (a class here).
    longest_unit = max(max(durations.values()), 3 * 2.0)
    assert max(sums) - min(sums) <= longest_unit, sums


@pytest.fixture(scope="module")
def mixed_suite(tmp_path_factory) -> Path:
    """100 tests: 70 pass, 15 fail, 5 error (in their set-up), 10 skipped."""
    root = tmp_path_factory.mktemp("mixed")
    bodies = ["pass"] * 70 + ["assert False"] * 15 + ["raise unittest.SkipTest('later')"] * 10
    text = "import unittest\n\n" + "".join(f"def test_{i}():\n    {b}\n\n" for i, b in enumerate(bodies))
    text += "class TestBroken:\n    def setup_method(self, method):\n        raise ValueError('x')\n\n"
    text += "".join(f"    def test_b{i}(self):\n        pass\n\n" for i in range(5))
    (root / "test_mixed.py").write_text(text)
    return root


def test_junit_report_has_every_testcase_and_the_right_counts(mixed_suite, tmp_path):
    out = tmp_path / "junit.xml"
    run = run_dbtest("--no-cache", "--junit-xml", str(out), str(mixed_suite))
    assert run.code == 1, run
    root = ET.parse(out).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 100
    assert sum(1 for c in cases if c.find("failure") is not None) == 15
    assert sum(1 for c in cases if c.find("error") is not None) == 5
    assert sum(1 for c in cases if c.find("skipped") is not None) == 10
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "100",
        "15",
        "5",
        "10",
    )


def test_json_and_markdown_reports(mixed_suite, tmp_path):
    run = run_dbtest(
        "--no-cache",
        "--json",
        str(tmp_path / "r.json"),
        "--markdown",
        str(tmp_path / "r.md"),
        str(mixed_suite),
    )
    assert run.code == 1, run
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["schema"] == "dbtest-report" and report["version"] == 1
    assert report["totals"]["passed"] == 70 and report["totals"]["failed"] == 15
    assert {"id", "outcome", "duration", "worker", "attempts", "message", "stdout"} <= set(report["tests"][0])
    assert report["run"]["python"] == platform.python_version(), "the workers' version, from their hello"
    markdown = (tmp_path / "r.md").read_text()
    assert "| 70 |" in markdown and "<details>" in markdown


def test_format_json_prints_the_report_on_stdout(mixed_suite):
    run = run_dbtest("--no-cache", "--format", "json", str(mixed_suite))
    assert json.loads(run.stdout)["totals"]["errors"] == 5
    assert "70 passed" in run.stderr


def test_two_shard_reports_merge_into_one(mixed_suite, tmp_path):
    for k in (1, 2):
        run_dbtest("--no-cache", "--shard", f"{k}/2", "--json", str(tmp_path / f"s{k}.json"), str(mixed_suite))
    merged = tmp_path / "merged.json"
    run = run_dbtest(
        "merge",
        str(tmp_path / "s1.json"),
        str(tmp_path / "s2.json"),
        "--json",
        str(merged),
        "--durations",
        str(tmp_path / "durations.json"),
    )
    assert run.code == 1, run  # the merged run has failures
    report = json.loads(merged.read_text())
    assert len(report["tests"]) == 100
    assert len({t["id"] for t in report["tests"]}) == 100
    assert report["run"]["shard"] is None
    assert len(json.loads((tmp_path / "durations.json").read_text())["durations"]) > 0
    duplicate = run_dbtest("merge", str(tmp_path / "s1.json"), str(tmp_path / "s1.json"), "--json", str(merged))
    assert duplicate.code == 4 and "shard 1/2" in duplicate.stderr
    missing = run_dbtest("merge", str(tmp_path / "s1.json"), "--json", str(merged))
    assert missing.code == 4 and "missing shard 2/2" in missing.stderr


def test_bazel_sharding_touches_the_status_file_and_writes_junit(mixed_suite, tmp_path):
    status, xml = tmp_path / "status", tmp_path / "bazel.xml"
    env = {
        "TEST_SHARD_INDEX": "0",
        "TEST_TOTAL_SHARDS": "2",
        "TEST_SHARD_STATUS_FILE": str(status),
        "XML_OUTPUT_FILE": str(xml),
    }
    run = run_dbtest("--no-cache", "--shard", "auto", str(mixed_suite), env=env)
    assert run.code in (0, 1), run
    assert status.exists()
    assert 0 < len(ET.parse(xml).getroot().findall(".//testcase")) < 100


def test_unwritable_report_path_fails_before_running(mixed_suite):
    run = run_dbtest("--junit-xml", "/proc/no/such/dir/x.xml", str(mixed_suite))
    assert run.code == 4, run
    assert run.stderr.count("\n") == 1
    assert "passed" not in run.stdout


def test_pyproject_configuration(project):
    root = project(
        {
            "pyproject.toml": "[tool.dbtest]\njobs = 1\ntimeout = 2\npaths = ['checks']\n",
            "checks/test_c.py": "import time\ndef test_slow():\n    time.sleep(30)\ndef test_ok():\n    pass\n",
            "other/test_o.py": "def test_not_in_paths():\n    pass\n",
        }
    )
    run = run_dbtest("--no-cache", cwd=root)
    assert run.last_line.startswith("1 passed, 0 failed, 1 error"), run
    assert "timed out after 2 s" in run.stdout
    assert "on 1 worker" in run.stdout
    # The command line's timeout wins over the configuration's: the same test
    # now times out after the command line's 1 s, not the configured 2 s.
    cli_wins = run_dbtest("--no-cache", "--timeout", "1", "-k", "slow", cwd=root)
    assert cli_wins.last_line.startswith("0 passed, 0 failed, 1 error"), cli_wins
    assert "timed out after 1 s" in cli_wins.stdout, cli_wins
    assert "timed out after 2 s" not in cli_wins.stdout, cli_wins


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ("[tool.dbtest]\njbos = 2\n", "jbos"),
        ("[tool.dbtest]\njobs = 'many'\n", "jobs"),
        ("[tool.dbtest\n", "unclosed table"),
    ],
)
def test_bad_pyproject_is_a_usage_error_naming_the_key(project, config, named):
    root = project({"pyproject.toml": config, "test_x.py": "def test_x():\n    pass\n"})
    run = run_dbtest(cwd=root)
    assert run.code == 4, run
    assert named in run.stderr and run.stderr.count("\n") == 1, run


GENERATED = """\
def test_static():
    pass


def _make(i):
    def test():
        assert i >= 0

    return test


for i in range(40):
    globals()[f"test_gen_{i}"] = _make(i)
"""


def ran(report: Path) -> list[str]:
    return [test["id"] for test in json.loads(report.read_text())["tests"]]


@pytest.mark.parametrize("mode", ["slice", "hash"])
def test_tests_found_only_at_import_run_in_exactly_one_shard(project, tmp_path, mode):
    root = project({"tests/test_gen.py": GENERATED})
    expected = {"tests/test_gen.py::test_static", *(f"tests/test_gen.py::test_gen_{i}" for i in range(40))}
    reports = []
    for k in (1, 2, 3):
        report = tmp_path / f"shard-{k}.json"
        run = run_dbtest("--no-cache", "--shard", f"{k}/3", "--shard-mode", mode, "--json", str(report), cwd=root)
        assert run.code == 0, run
        reports.append(report)
    union = [test for report in reports for test in ran(report)]
    assert sorted(union) == sorted(expected), "each of the 41 tests runs in exactly one shard"
    merged = tmp_path / "merged.json"
    run = run_dbtest("merge", *map(str, reports), "--json", str(merged), cwd=root)
    assert run.code == 0, run
    assert sorted(ran(merged)) == sorted(expected)


def test_merge_notices_tests_that_ran_in_no_shard(project, tmp_path):
    root = project({"tests/test_gen.py": GENERATED})
    # Slices of one static test: shard 1 runs test_static (and imports the file
    # for it); the file's own shard, 3, runs the 40 generated tests.
    reports = [tmp_path / f"shard-{k}.json" for k in (1, 2, 3)]
    for k, report in enumerate(reports, 1):
        run = run_dbtest("--no-cache", "--shard", f"{k}/3", "--shard-mode", "slice", "--json", str(report), cwd=root)
        assert run.code == 0, run
    assert ran(reports[0]) == ["tests/test_gen.py::test_static"]
    assert len(ran(reports[2])) == 40
    # Lose a planned test and a test found at import from the reports.
    for report in (reports[0], reports[2]):
        document = json.loads(report.read_text())
        document["tests"].pop()
        report.write_text(json.dumps(document))
    merged = tmp_path / "merged.json"
    run = run_dbtest("merge", *map(str, reports), "--json", str(merged), cwd=root)
    assert run.code == 3, run
    assert run.stderr.count("\n") == 1, run
    assert "2 tests have no result in any report: tests/test_gen.py::test_static" in run.stderr, run
    assert len(ran(merged)) == 39, "the merged report is still written"


def test_merge_refuses_shards_of_different_selections(project, tmp_path):
    root = project({"tests/test_gen.py": GENERATED})
    first, second = tmp_path / "shard-1.json", tmp_path / "shard-2.json"
    assert run_dbtest("--no-cache", "--shard", "1/2", "--json", str(first), cwd=root).code == 0
    run = run_dbtest("--no-cache", "--shard", "2/2", "-k", "not static", "--json", str(second), cwd=root)
    assert run.code == 0, run
    run = run_dbtest("merge", str(first), str(second), "--json", str(tmp_path / "merged.json"), cwd=root)
    assert run.code == 4, run
    assert "shard-1.json selected 1 test but" in run.stderr and "shard-2.json selected 0:" in run.stderr, run
    assert run.stderr.count("\n") == 1, run


def test_an_empty_shard_writes_its_reports_and_passes(project, tmp_path):
    # Two tests dealt over four shards: shards 3 and 4 get nothing.
    root = project({"test_two.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n"})
    listed_empty = run_dbtest("list", "--shard", "3/4", "--shard-mode", "slice", cwd=root)
    assert (listed_empty.code, listed_empty.stdout) == (0, ""), listed_empty
    reports = []
    for k in (1, 2, 3, 4):
        out = tmp_path / f"shard-{k}"
        run = run_dbtest(
            "--no-cache",
            "--shard",
            f"{k}/4",
            "--shard-mode",
            "slice",
            "--json",
            f"{out}.json",
            "--junit-xml",
            f"{out}.xml",
            "--markdown",
            f"{out}.md",
            cwd=root,
        )
        assert run.code == 0, run
        reports.append(Path(f"{out}.json"))
    empty = json.loads(reports[3].read_text())
    assert empty["tests"] == [] and empty["run"]["shard"] == {"index": 4, "total": 4}
    assert empty["plan"]["selected"] == 2 and empty["plan"]["planned"] == []
    assert ET.parse(tmp_path / "shard-4.xml").getroot().findall(".//testcase") == []
    assert (tmp_path / "shard-4.md").read_text().strip()
    on_stdout = run_dbtest("--no-cache", "--shard", "4/4", "--shard-mode", "slice", "--format", "json", cwd=root)
    assert on_stdout.code == 0 and json.loads(on_stdout.stdout)["tests"] == [], on_stdout
    merged = tmp_path / "merged.json"
    run = run_dbtest("merge", *map(str, reports), "--json", str(merged), cwd=root)
    assert run.code == 0, run
    assert sorted(ran(merged)) == ["test_two.py::test_a", "test_two.py::test_b"]


def test_nothing_selected_in_any_shard_is_still_exit_5(project, tmp_path):
    root = project({"test_two.py": "def test_a():\n    pass\n"})
    report = tmp_path / "r.json"
    run = run_dbtest("--no-cache", "--shard", "1/2", "-k", "nothing", "--json", str(report), cwd=root)
    assert run.code == 5, run
    assert json.loads(report.read_text())["tests"] == []


def test_a_collection_error_is_reported_by_one_shard(project, tmp_path):
    root = project(
        {
            "test_ok.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n",
            "test_broken.py": "def test_x(:\n",
        }
    )
    reports = [tmp_path / f"shard-{k}.json" for k in (1, 2, 3)]
    codes = []
    for k, report in enumerate(reports, 1):
        codes.append(run_dbtest("--no-cache", "--shard", f"{k}/3", "--json", str(report), cwd=root).code)
    errors = [k for k, report in enumerate(reports, 1) if "test_broken.py" in ran(report)]
    assert len(errors) == 1, "exactly one shard reports the file's collection error"
    assert sorted(codes) == [0, 0, 1], codes
    run = run_dbtest("merge", *map(str, reports), "--json", str(tmp_path / "merged.json"), cwd=root)
    assert run.code == 1, run
    assert sorted(ran(tmp_path / "merged.json")) == ["test_broken.py", "test_ok.py::test_a", "test_ok.py::test_b"]


def test_reports_name_the_python_even_when_no_worker_started_and_counts_read_right(project, tmp_path):
    root = project(
        {
            "test_skipped.py": "import pytest\n\n@pytest.mark.skip\ndef test_a():\n    pass\n",
            "test_error.py": "import pytest\n\n@pytest.fixture\ndef broken():\n    raise RuntimeError\n\n"
            "def test_b(broken):\n    pass\n",
        }
    )
    version = platform.python_version()
    skipped = tmp_path / "skipped.json"
    run = run_dbtest("--no-cache", "--json", str(skipped), str(root / "test_skipped.py"))
    assert run.code == 0, run
    assert json.loads(skipped.read_text())["run"]["python"] == version
    empty_shard = tmp_path / "shard.json"
    run_dbtest("--no-cache", "--shard", "2/2", "--json", str(empty_shard), str(root / "test_skipped.py"))
    assert json.loads(empty_shard.read_text())["run"]["python"] == version
    errored = tmp_path / "error.json"
    run = run_dbtest("--no-cache", "--json", str(errored), str(root / "test_error.py"))
    assert run.last_line.startswith("0 passed, 0 failed, 1 error in"), run
    merged = run_dbtest("merge", str(errored), "--json", str(tmp_path / "merged.json"))
    assert merged.stdout == "merged 1 test: 0 passed, 0 failed, 1 error, 0 skipped\n", merged
