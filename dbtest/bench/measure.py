"""Timing: the timer's resolution, a round (``iterations`` calls timed
together), and calibration (how many iterations make a round of ~100 ms, never
less than 1000 times the timer's resolution)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

TIMER = time.perf_counter
TARGET_ROUND = 0.1
RESOLUTION_FACTOR = 1000
MAX_ITERATIONS = 10**9


def timer_resolution(samples: int = 2000) -> float:
    """The smallest step `time.perf_counter` takes, measured (at least the
    resolution the clock declares)."""
    declared = time.get_clock_info("perf_counter").resolution
    best = float("inf")
    for _ in range(samples):
        start = TIMER()
        now = TIMER()
        while now == start:
            now = TIMER()
        best = min(best, now - start)
    return max(best, declared)


class Timed:
    """A member's function set up for timing: `round(n)` returns the seconds n
    calls took. An async member runs on its own event loop, the loop's start
    outside the timing."""

    def __init__(self, call: Callable[[], Any], is_async: bool) -> None:
        self.call = call
        self.loop: Any = None
        if is_async:
            import asyncio

            self.loop = asyncio.new_event_loop()

    def round(self, iterations: int) -> float:
        if self.loop is not None:
            return self.loop.run_until_complete(self._async_round(iterations))
        call = self.call
        loop = range(iterations)
        start = TIMER()
        for _ in loop:
            call()
        return TIMER() - start

    async def _async_round(self, iterations: int) -> float:
        call = self.call
        loop = range(iterations)
        start = TIMER()
        for _ in loop:
            await call()
        return TIMER() - start

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()
            self.loop = None


def calibrate(timed: Timed, resolution: float, target: float = TARGET_ROUND) -> tuple[int, float]:
    """(iterations, seconds of such a round): the least power-of-growth count
    whose round takes at least ``target`` and 1000x ``resolution``."""
    floor = max(target, RESOLUTION_FACTOR * resolution)
    iterations = 1
    while True:
        elapsed = timed.round(iterations)
        if elapsed >= floor or iterations >= MAX_ITERATIONS:
            return iterations, elapsed
        grow = 10.0 if elapsed <= 0 else min(10.0, max(1.5, floor / elapsed * 1.1))
        iterations = min(MAX_ITERATIONS, max(iterations + 1, int(iterations * grow)))


def gc_collections() -> int:
    """Collections the garbage collector has run so far (all generations)."""
    return sum(stat.get("collections", 0) for stat in gc.get_stats())
