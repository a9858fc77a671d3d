"""End-to-end selection: lazy loading, -k/-m, kinds, node ids, collection errors;
and properties of the expression language through the native module."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dbtest import _core

from .conftest import FIXTURES, run_dbtest

SELECTION = FIXTURES / "selection"


def test_an_unselected_module_is_never_imported(tmp_path):
    marker = tmp_path / "imported"
    env = {"DBTEST_SIDE_EFFECT": str(marker)}
    expression = "side_effect or fast"
    selected = run_dbtest("list", "-k", expression, str(SELECTION)).stdout.split()
    assert [t.rsplit("/", 1)[-1] for t in selected] == [
        "test_selected.py::test_fast",
        "test_selected.py::test_side_effect_file_absent",
    ]
    run = run_dbtest("-j", "2", "--no-cache", "-k", expression, str(SELECTION), env=env)
    assert run.last_line.startswith("2 passed, 0 failed, 1 error"), run  # the error: the broken file
    assert not marker.exists(), marker.read_text()
    # The proof is live: selecting the module does import it.
    run_dbtest("-j", "1", "--no-cache", "-k", "unselected", str(SELECTION), env=env)
    assert marker.exists()


def test_list_shows_every_style_without_importing(tmp_path):
    marker = tmp_path / "imported"
    run = run_dbtest("list", str(SELECTION), env={"DBTEST_SIDE_EFFECT": str(marker)})
    ids = run.stdout.split()
    assert "tests/fixtures/selection/test_selected.py::Api::heavy" in ids
    assert "tests/fixtures/selection/test_selected.py::test_fast" in ids
    assert "tests/fixtures/selection/test_never_imported.py::test_unselected" in ids
    assert not marker.exists()
    assert run.code == 1, "the broken file is a collection error"
    assert "test_broken_syntax.py:4" in run.stderr


def test_list_json_for_tools():
    run = run_dbtest("list", "--format", "json", str(SELECTION))
    document = json.loads(run.stdout)
    by_id = {t["id"].rsplit("/", 1)[-1]: t for t in document["tests"]}
    assert by_id["test_selected.py::Api::heavy"]["tags"] == ["slow"]
    assert by_id["test_selected.py::Api::heavy"]["style"] == "suite"
    assert by_id["test_service.py::test_talks_to_the_service"]["kind"] == "integration"
    assert document["errors"][0]["line"] == 4


def test_tags_expression_and_kinds():
    not_slow = run_dbtest("list", "-m", "not slow", str(SELECTION)).stdout.split()
    assert not any(t.endswith(("::heavy", "::test_slow_marked")) for t in not_slow)
    assert any(t.endswith("::light") for t in not_slow)
    integration = run_dbtest("integration", "--collect-only", str(SELECTION)).stdout.split()
    assert integration == ["tests/fixtures/selection/integration/test_service.py::test_talks_to_the_service"]
    unit = run_dbtest("unit", "--collect-only", str(SELECTION)).stdout.split()
    assert integration[0] not in unit and len(unit) == 6


def test_node_ids_select_exactly():
    node = f"{SELECTION}/test_selected.py::Api::light"
    assert run_dbtest("list", node).stdout.split() == ["tests/fixtures/selection/test_selected.py::Api::light"]
    run = run_dbtest("list", f"{SELECTION}/test_selected.py::nope")
    assert run.code == 4 and "not found" in run.stderr


def test_broken_file_does_not_stop_the_others():
    run = run_dbtest("--no-cache", "-j", "2", str(SELECTION))
    assert run.code == 1
    assert run.last_line.startswith("7 passed, 0 failed, 1 error"), run
    assert "test_broken_syntax.py" in run.stdout and "line 4" in run.stdout


def test_bad_expressions_exit_4_pointing_at_the_column():
    for expression, column in (("a and", 6), ("(a or b", 8), ("a b", 3), ("not", 4)):
        run = run_dbtest("list", "-k", expression, str(SELECTION))
        assert run.code == 4, run
        assert f"column {column}" in run.stderr, (expression, run.stderr)


words = st.sampled_from(["api", "login", "slow", "test_", "Users", "x*y", "te?t"])


def expressions():
    return st.recursive(
        words,
        lambda inner: st.one_of(
            st.builds(lambda e: f"not {e}", inner),
            st.builds(lambda a, b: f"({a} and {b})", inner, inner),
            st.builds(lambda a, b: f"({a} or {b})", inner, inner),
        ),
        max_leaves=6,
    )


IDS = [f"tests/test_{m}.py::{c}::{n}" for m in ("api", "db") for c in ("Users", "Login") for n in ("test_a", "slow_x")]
TAGS = [["slow"] if "slow" in i else ["fast"] for i in IDS]


@given(expressions())
def test_an_expression_and_its_negation_partition_the_tests(expression):
    selected = set(_core.select(IDS, TAGS, keyword=expression))
    negated = set(_core.select(IDS, TAGS, keyword=f"not ({expression})"))
    assert selected.isdisjoint(negated)
    assert selected | negated == set(range(len(IDS)))
    tagged = set(_core.select(IDS, TAGS, markers=expression))
    assert tagged.isdisjoint(_core.select(IDS, TAGS, markers=f"not ({expression})"))


def test_native_collect_matches_list():
    document = json.loads(_core.collect(json.dumps({"command": "list", "paths": [str(SELECTION)]})))
    listed = run_dbtest("list", str(SELECTION)).stdout.split()
    assert [t["id"] for t in document["tests"]] == listed


def test_list_says_when_files_may_hold_tests_only_an_import_reveals(project):
    root = project(
        {
            "test_generated.py": "for _i in range(3):\n    globals()[f'test_{_i}'] = lambda: None\n",
            "test_plain.py": "def test_plain():\n    pass\n",
        }
    )
    listed = run_dbtest("list", "--static", str(root), cwd=root)
    assert listed.stdout.split() == ["test_plain.py::test_plain"], listed
    assert "note: 1 file may define tests this list cannot show" in listed.stderr, listed
    assert run_dbtest("--no-cache", str(root), cwd=root).last_line.startswith("4 passed"), "a run finds them"
    assert "note:" not in run_dbtest("list", "--static", str(root / "test_plain.py"), cwd=root).stderr
    # Without --static the file is imported and its tests listed.
    imported = run_dbtest("list", str(root), cwd=root)
    assert imported.stdout.split() == [
        "test_generated.py::test_0",
        "test_generated.py::test_1",
        "test_generated.py::test_2",
        "test_plain.py::test_plain",
    ], imported
    assert "note:" not in imported.stderr, imported


MIXED_MODULE = """\
import unittest

for _i in range(2):
    globals()[f"test_generated_{_i}"] = lambda: None


def test_keep():
    pass


def test_drop():
    assert False, "deselected: must not run"


@unittest.skip("static skip")
def test_skip():
    assert False, "statically skipped: must not run"
"""


def test_static_tests_left_out_are_not_found_again_at_import(project, tmp_path):
    """A module imported to find the tests it generates knows its static ones,
    selected or not: a deselected or statically skipped test is not picked up
    again as a test only the import revealed."""
    root = project({"test_mixed.py": MIXED_MODULE})
    report = tmp_path / "report.json"
    run = run_dbtest("--no-cache", "-k", "not drop", "--json", str(report), str(root), cwd=root)
    assert run.code == 0, run
    assert run.last_line.startswith("3 passed, 0 failed, 1 skipped in"), run
    results = sorted((t["id"], t["outcome"], t["attempts"]) for t in json.loads(report.read_text())["tests"])
    assert results == [
        ("test_mixed.py::test_generated_0", "passed", 1),
        ("test_mixed.py::test_generated_1", "passed", 1),
        ("test_mixed.py::test_keep", "passed", 1),
        ("test_mixed.py::test_skip", "skipped", 1),
    ], run
