"""Sending results: each test's as soon as it is known, with the output it
captured, and errors outside any one test (a scope's teardown)."""

from __future__ import annotations

from . import protocol
from .outcomes import PASS, PASSED, Outcome

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Reporter:
    def __init__(self, channel: protocol.Channel, capture: Any) -> None:
        self.channel = channel
        self.capture = capture

    def result(
        self,
        batch: int,
        position: int,
        outcome: Outcome,
        duration: float,
        warnings: list[str],
        subtests_passed: int = 0,
        subtests: list[dict[str, Any]] | None = None,
    ) -> None:
        stdout, stderr = self.capture.take()
        if outcome.outcome == PASSED:
            # What a passing test printed is shown nowhere (as under pytest).
            stdout = stderr = ""
        if outcome is PASS and not (stdout or stderr or warnings or subtests_passed or subtests):
            # Most results: a frame from constant parts.
            self.channel.send_frame(protocol.passed_frame(batch, position, duration))
            return
        self.channel.send(
            protocol.result(
                batch,
                position,
                outcome.outcome,
                outcome.phase,
                outcome.error_kind,
                duration,
                outcome.message,
                outcome.traceback,
                stdout or None,
                stderr or None,
                subtests_passed,
                subtests,
                warnings,
            )
        )

    def teardown_error(self, module: str, name: str, outcome: Outcome, duration: float) -> None:
        """A scope's finalizer failed: reported as a ``fixture`` message with its output."""
        stdout, stderr = self.capture.take()
        self.channel.send(
            protocol.fixture(
                module,
                name,
                outcome.phase,
                duration,
                outcome.message,
                outcome.traceback,
                stdout or None,
                stderr or None,
            )
        )
