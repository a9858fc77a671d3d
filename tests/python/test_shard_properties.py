"""Properties of `--shard K/N`, checked on the Rust partition through ``dbtest._core.shard``.

Whatever the keys, durations, mode and number of shards: every unit lands in exactly one shard, the
partition ignores input order, duration mode keeps shards within one longest unit of each other, and
hash mode never moves a unit when another is added.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbtest import _core

MODES = ["duration", "hash", "slice"]

keys = st.text(min_size=1, max_size=40)
durations = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1e4, allow_nan=False, allow_infinity=False))
units = st.lists(st.tuples(keys, durations), unique_by=lambda unit: unit[0], max_size=60)
totals = st.integers(min_value=1, max_value=12)
modes = st.sampled_from(MODES)


def shards(unit_list: list[tuple[str, float | None]], total: int, mode: str) -> list[list[int]]:
    """The indices in each shard, shard 1 first."""
    unit_keys = [key for key, _ in unit_list]
    unit_durations = [duration for _, duration in unit_list]
    return [_core.shard(unit_keys, unit_durations, f"{index}/{total}", mode) for index in range(1, total + 1)]


def effective(unit_list: list[tuple[str, float | None]]) -> list[float]:
    """Durations as duration mode packs them: unknown ones count as the mean of the known ones."""
    known = [duration for _, duration in unit_list if duration is not None]
    fallback = sum(known) / len(known) if known else 1.0
    return [fallback if duration is None else duration for _, duration in unit_list]


@settings(max_examples=200, deadline=None)
@given(units, totals, modes)
def test_every_unit_is_in_exactly_one_shard(unit_list: list[tuple[str, float | None]], total: int, mode: str) -> None:
    parts = shards(unit_list, total, mode)
    flat = [index for part in parts for index in part]
    assert sorted(flat) == list(range(len(unit_list)))
    for part in parts:
        assert part == sorted(part), "indices come back in ascending order"


@settings(max_examples=200, deadline=None)
@given(units, totals, modes, st.randoms(use_true_random=False))
def test_input_order_does_not_matter(
    unit_list: list[tuple[str, float | None]], total: int, mode: str, rng: random.Random
) -> None:
    shuffled = list(unit_list)
    rng.shuffle(shuffled)
    before = [{unit_list[i][0] for i in part} for part in shards(unit_list, total, mode)]
    after = [{shuffled[i][0] for i in part} for part in shards(shuffled, total, mode)]
    assert before == after


@settings(max_examples=200, deadline=None)
@given(units.filter(bool), totals)
def test_duration_shards_are_within_one_longest_unit(unit_list: list[tuple[str, float | None]], total: int) -> None:
    weights = effective(unit_list)
    loads = [sum(weights[i] for i in part) for part in shards(unit_list, total, "duration")]
    longest = max(weights)
    slack = 1e-9 * max(1.0, sum(weights))
    assert max(loads) - min(loads) <= longest + slack, (loads, longest)


@settings(max_examples=100, deadline=None)
@given(units, keys, totals)
def test_hash_shards_do_not_move_when_a_unit_is_added(
    unit_list: list[tuple[str, float | None]], new_key: str, total: int
) -> None:
    if any(key == new_key for key, _ in unit_list):
        return
    before = {unit_list[i][0]: shard for shard, part in enumerate(shards(unit_list, total, "hash")) for i in part}
    grown = [*unit_list, (new_key, 1.0)]
    after = {grown[i][0]: shard for shard, part in enumerate(shards(grown, total, "hash")) for i in part}
    assert all(after[key] == shard for key, shard in before.items())


def test_partition_is_the_same_on_every_call() -> None:
    unit_keys = [f"tests/test_{i % 7}.py::test_{i}" for i in range(50)]
    unit_durations: list[float | None] = [None if i % 5 == 0 else i / 10 for i in range(50)]
    first = _core.shard(unit_keys, unit_durations, "2/3", "duration")
    assert first == _core.shard(unit_keys, unit_durations, "2/3", "duration")
    assert first, "a shard of 50 units over 3 is not empty"


@pytest.mark.parametrize(
    ("spec", "mode", "message"),
    [
        ("5/4", "hash", "invalid shard 5/4: there are only 4 shards"),
        ("0/4", "hash", "shards are numbered from 1"),
        ("2/0", "hash", "must be at least 1"),
        ("x/4", "hash", 'invalid shard "x/4"'),
        ("1/", "hash", 'invalid shard "1/"'),
        ("1/2", "random", 'unknown shard mode "random"'),
    ],
)
def test_bad_specs_raise_value_error(spec: str, mode: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _core.shard(["a"], [None], spec, mode)


def test_mismatched_lengths_raise_value_error() -> None:
    with pytest.raises(ValueError, match="same length"):
        _core.shard(["a", "b"], [None], "1/2", "slice")
