"""`dbtest.expectations` (`expect`): every matcher, its negation, and what a failure says."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import traceback
from collections.abc import Callable

import pytest

import dbtest
from dbtest.expectations import Expectation, expect

from .conftest import REPO


def failure(check: Callable[[], object]) -> str:
    with pytest.raises(AssertionError) as info:
        check()
    return str(info.value)


class Thing:
    pass


def raises_value_error() -> None:
    raise ValueError("bad value 42")


PASSING: list[Callable[[], object]] = [
    lambda: expect(2 + 2).to_equal(4),
    lambda: expect([1, 2]).not_.to_equal([2, 1]),
    lambda: expect(None).to_be(None),
    lambda: expect([1]).not_.to_be([1]),
    lambda: expect(True).to_be_true(),
    lambda: expect(1).not_.to_be_true(),
    lambda: expect(False).to_be_false(),
    lambda: expect(0).not_.to_be_false(),
    lambda: expect(None).to_be_none(),
    lambda: expect(0).not_.to_be_none(),
    lambda: expect([1, 2]).to_contain(2),
    lambda: expect("dbtest").to_contain("test"),
    lambda: expect({"k": 1}).not_.to_contain("v"),
    lambda: expect((1, 2, 3)).to_have_length(3),
    lambda: expect("").not_.to_have_length(1),
    lambda: expect(3).to_be_greater_than(2),
    lambda: expect(2).not_.to_be_greater_than(2),
    lambda: expect(1.5).to_be_less_than(2),
    lambda: expect(0.1 + 0.2).to_be_close_to(0.3),
    lambda: expect(1e-13).to_be_close_to(0),
    lambda: expect(101).to_be_close_to(100, rel=0.01),
    lambda: expect(1.05).to_be_close_to(1, abs=0.1),
    lambda: expect(math.inf).to_be_close_to(math.inf),
    lambda: expect(1.1).not_.to_be_close_to(1),
    lambda: expect("order-1234").to_match(r"\d{4}$"),
    lambda: expect("abc").to_match(re.compile("B", re.IGNORECASE)),
    lambda: expect("abc").not_.to_match("^b"),
    lambda: expect(raises_value_error).to_raise(ValueError),
    lambda: expect(raises_value_error).to_raise((KeyError, ValueError), match=r"value \d+"),
    lambda: expect(lambda: None).not_.to_raise(Exception),
    lambda: expect(Thing()).to_be_instance_of(Thing),
    lambda: expect(3).to_be_instance_of((str, int)),
    lambda: expect(3).not_.to_be_instance_of(str),
]


@pytest.mark.parametrize("check", PASSING)
def test_matchers_that_hold_return_quietly(check: Callable[[], object]) -> None:
    check()


FAILING: list[tuple[Callable[[], object], str]] = [
    (lambda: expect(3).to_equal(4), "expected 3 to equal 4"),
    (lambda: expect(3).not_.to_equal(3), "expected 3 not to equal 3"),
    (lambda: expect([1]).to_be([1]), "expected [1] to be [1] (the same object)"),
    (lambda: expect(None).not_.to_be(None), "expected None not to be None (the same object)"),
    (lambda: expect(1).to_be_true(), "expected 1 to be True"),
    (lambda: expect(True).not_.to_be_true(), "expected True not to be True"),
    (lambda: expect(0).to_be_false(), "expected 0 to be False"),
    (lambda: expect("x").to_be_none(), "expected 'x' to be None"),
    (lambda: expect([1, 2]).to_contain(3), "expected [1, 2] to contain 3"),
    (lambda: expect("abc").not_.to_contain("b"), "expected 'abc' not to contain 'b'"),
    (lambda: expect([1, 2]).to_have_length(3), "expected [1, 2] to have length 3 (it has length 2)"),
    (lambda: expect(1).to_be_greater_than(2), "expected 1 to be greater than 2"),
    (lambda: expect(3).to_be_less_than(2), "expected 3 to be less than 2"),
    (lambda: expect(1).not_.to_be_less_than(2), "expected 1 not to be less than 2"),
    (
        lambda: expect(0.31).to_be_close_to(0.3),
        "expected 0.31 to be close to 0.3 (within 3e-07; the difference is 0.01)",
    ),
    (lambda: expect(math.nan).to_be_close_to(math.nan), "expected nan to be close to nan"),
    (lambda: expect("abc").to_match(r"\d"), "expected 'abc' to match '\\\\d'"),
    (lambda: expect("abc").not_.to_match(re.compile("b")), "expected 'abc' not to match 'b'"),
    (lambda: expect(3).to_be_instance_of(str), "expected 3 to be an instance of str (its type is int)"),
    (
        lambda: expect(raises_value_error).to_raise(KeyError),
        "expected raises_value_error to raise KeyError, but it raised ValueError('bad value 42')",
    ),
    (
        lambda: expect(raises_value_error).to_raise(ValueError, match="other"),
        "expected raises_value_error to raise ValueError matching 'other', but it raised ValueError('bad value 42')",
    ),
    (
        lambda: expect(lambda: 42).to_raise(ValueError),
        "to raise ValueError, but it returned 42",
    ),
    (
        lambda: expect(raises_value_error).not_.to_raise(ValueError),
        "expected raises_value_error not to raise ValueError, but it raised ValueError('bad value 42')",
    ),
]


@pytest.mark.parametrize(("check", "message"), FAILING, ids=[m for _, m in FAILING])
def test_failures_show_expected_and_actual(check: Callable[[], object], message: str) -> None:
    assert message in failure(check).splitlines()[0]


def test_equal_containers_get_a_diff() -> None:
    text = failure(lambda: expect({"host": "db", "port": 5432}).to_equal({"host": "db", "port": 5433}))
    lines = text.splitlines()
    assert lines[0] == "expected {'host': 'db', 'port': 5432} to equal {'host': 'db', 'port': 5433}"
    assert "  Omitting 1 identical item" in lines
    assert "    'port': 5432 != 5433" in lines
    assert "  Full diff (- expected, + actual):" in lines
    assert "  - {'host': 'db', 'port': 5433}" in lines
    assert "  + {'host': 'db', 'port': 5432}" in lines


def test_sequences_sets_and_tuples_get_a_diff() -> None:
    listed = failure(lambda: expect([1, 2, 3]).to_equal([1, 2]))
    assert "Actual has 1 more item, first extra item: 3" in listed
    tupled = failure(lambda: expect((1, "a")).to_equal((1, "b")))
    assert "At index 1: 'a' != 'b'" in tupled
    setted = failure(lambda: expect({1, 2}).to_equal({2, 3}))
    assert "Extra items in actual:\n    1" in setted
    assert "Extra items in expected:\n    3" in setted


def test_long_strings_get_a_diff_and_short_ones_do_not() -> None:
    short = failure(lambda: expect("abc").to_equal("abd"))
    assert short == "expected 'abc' to equal 'abd'"
    long = failure(
        lambda: expect("The quick brown fox jumps over the lazy dog").to_equal(
            "The quick brown fox jumped over the lazy dog"
        )
    )
    assert "Diff (- expected, + actual):" in long
    assert "  - " in long and "  + " in long
    multiline = failure(lambda: expect("one\ntwo\n").to_equal("one\n2\n"))
    assert "\n  - 2\n  + two" in multiline


def test_huge_values_are_cut_in_the_summary_but_diffed_in_full() -> None:
    actual = list(range(200))
    expected = [*range(150), -1, *range(151, 200)]
    text = failure(lambda: expect(actual).to_equal(expected))
    first = text.splitlines()[0]
    assert len(first) < 600 and "..." in first
    assert "At index 150: 150 != -1" in text
    assert "Full diff" in text


def test_equal_but_not_identical_is_explained() -> None:
    assert "equal but are different objects" in failure(lambda: expect([1]).to_be([1]))


def test_to_contain_on_long_text_shows_the_text() -> None:
    text = "\n".join(f"line {n}" for n in range(10))
    message = failure(lambda: expect(text).to_contain("line 99"))
    assert "Searched in:" in message and "  line 9" in message


def test_to_raise_returns_the_exception() -> None:
    error = expect(raises_value_error).to_raise(ValueError, match="42")
    assert isinstance(error, ValueError)
    assert expect(lambda: None).not_.to_raise(ValueError) is None


def test_to_raise_chains_the_unexpected_exception() -> None:
    with pytest.raises(AssertionError) as info:
        expect(raises_value_error).to_raise(KeyError)
    assert isinstance(info.value.__cause__, ValueError)


def test_negated_to_raise_lets_other_exceptions_through() -> None:
    with pytest.raises(ValueError):
        expect(raises_value_error).not_.to_raise(KeyError)


def test_to_raise_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="needs a callable"):
        expect(42).to_raise(ValueError)


def test_to_be_close_to_rejects_negative_tolerances() -> None:
    with pytest.raises(ValueError):
        expect(1.0).to_be_close_to(1.0, rel=-1)


def test_not_is_a_fresh_negated_expectation() -> None:
    positive = expect(1)
    negative = positive.not_
    assert isinstance(negative, Expectation)
    assert (positive.negated, negative.negated, negative.not_.negated) == (False, True, False)


def test_failures_end_one_frame_below_the_caller() -> None:
    with pytest.raises(AssertionError) as info:
        expect(1).to_equal(2)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].name == "to_equal"
    assert frames[-2].name == "test_failures_end_one_frame_below_the_caller"


def test_expect_is_exported_lazily_from_dbtest() -> None:
    assert dbtest.expect is expect
    assert "expect" in dbtest.__all__


def test_importing_the_module_does_not_shadow_the_function() -> None:
    code = (
        "import dbtest.expectations, dbtest; from dbtest import expect; print(callable(expect), type(expect).__name__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert proc.stdout.split() == ["True", "function"]
