"""The phase of the running test (``setup``, ``call``, ``teardown``), for the
built-ins that keep things per phase (``caplog.get_records``, the capture
fixtures' hand-over of unread output), as pytest does. The engine announces
each phase (`enter_phase`); the live fixtures that care listen.
"""

from __future__ import annotations

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PHASES = ("setup", "call", "teardown")

# The phase of the running test, for the built-ins that keep things per phase
# (``caplog.get_records``, the capture fixtures' hand-over of unread output),
# as pytest does. Without word from the engine, everything happens in "call".
current_phase = "call"
# Called with the new phase's name: the live fixtures that care.
_phase_listeners: list[Callable[[str], None]] = []


def enter_phase(when: str) -> None:
    """The running test enters ``when`` (``"setup"``, ``"call"`` or ``"teardown"``).

    An engine announces all three phases of every test, or none."""
    global current_phase
    if when not in PHASES:
        raise ValueError(f"unknown phase {when!r}: expected one of {', '.join(PHASES)}")
    current_phase = when
    for listener in tuple(_phase_listeners):
        listener(when)


def listen_to_phases(listener: Callable[[str], None]) -> None:
    _phase_listeners.append(listener)


def stop_listening_to_phases(listener: Callable[[str], None]) -> None:
    try:
        _phase_listeners.remove(listener)
    except ValueError:
        pass
