"""The benchmark lane: the one process ``dbtest bench`` measures in
(``python -P -m dbtest.bench.lane``, fd 3 in, fd 4 out; messages in
`dbtest.worker.protocol`). It imports benchmark modules, sets members up and
calibrates them on ``prepare``, and times one round per ``round``; the
coordinator decides the order (round-robin in a group), the warmups, and when a
member has enough rounds."""

from __future__ import annotations

import gc
import importlib
import os
import platform
import sys
import traceback
from typing import Any

from dbtest.worker.protocol import PROTOCOL_VERSION, Channel

from . import api
from .measure import Timed, calibrate, gc_collections, timer_resolution


def pin_cpu() -> int | None:
    """Pins this process to one CPU (the last it may use: the first takes
    most interrupts), where the OS allows it."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return cpus[-1]
    except (AttributeError, OSError, IndexError):
        return None


def load(ref: dict[str, Any]) -> Any:
    name = ref["name"]
    module = sys.modules.get(name)
    if module is None:
        root = ref["import_root"]
        if root in sys.path:
            sys.path.remove(root)
        sys.path.insert(0, root)
        module = importlib.import_module(name)
    return module


def _tb(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _message(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


class Lane:
    def __init__(self, channel: Channel, resolution: float) -> None:
        self.channel = channel
        self.resolution = resolution
        self.slots: list[Timed | None] = []

    def failed(
        self, request: int, slot: int | None, name: str, phase: str, exc: BaseException | None, text: str = ""
    ) -> None:
        self.channel.send(
            {
                "type": "failed",
                "request": request,
                "slot": slot,
                "name": name,
                "phase": phase,
                "message": _message(exc) if exc is not None else text,
                "traceback": _tb(exc) if exc is not None else None,
            }
        )

    def prepare(self, request: int, ref: dict[str, Any], name: str) -> None:
        baseline, ready = self._prepare(request, ref, name)
        self.channel.send({"type": "prepared", "request": request, "baseline": baseline, "members": ready})

    def _prepare(self, request: int, ref: dict[str, Any], name: str) -> tuple[str | None, list[dict[str, Any]]]:
        try:
            module = load(ref)
        except BaseException as exc:  # noqa: BLE001 - the member's error, reported
            self.failed(request, None, name, "importing", exc)
            return None, []
        members = api.resolve(module.__name__, name)
        if not members:
            self.failed(request, None, name, "importing", None, f"no benchmark {name!r} in {ref['path']}")
            return None, []
        ready = []
        for member in members:
            slot = len(self.slots)
            self.slots.append(None)
            try:
                timed = Timed(member.bound(), member.is_async)
            except BaseException as exc:  # noqa: BLE001
                self.failed(request, slot, member.full_name, "setup", exc)
                continue
            try:
                iterations, elapsed = calibrate(timed, self.resolution)
            except BaseException as exc:  # noqa: BLE001
                timed.close()
                self.failed(request, slot, member.full_name, "calibrating", exc)
                continue
            self.slots[slot] = timed
            ready.append({"slot": slot, "name": member.full_name, "iterations": iterations, "round_time": elapsed})
        return members[0].group.baseline, ready

    def round(self, slot: int, iterations: int) -> None:
        timed = self.slots[slot] if 0 <= slot < len(self.slots) else None
        if timed is None:
            self.failed(0, slot, "", "running", None, f"no member in slot {slot}")
            return
        before = gc_collections()
        try:
            seconds = timed.round(iterations)
        except BaseException as exc:  # noqa: BLE001
            timed.close()
            self.slots[slot] = None
            self.failed(0, slot, "", "running", exc)
            return
        self.channel.send(
            {"type": "sample", "slot": slot, "seconds": seconds, "gc_collections": gc_collections() - before}
        )


def hello(resolution: float, cpu: int | None) -> dict[str, Any]:
    return {
        "type": "lane_hello",
        "protocol": PROTOCOL_VERSION,
        "pid": os.getpid(),
        "python": sys.version.splitlines()[0],
        "implementation": sys.implementation.name,
        "machine": f"{platform.platform()} {platform.machine()}",
        "timer": "time.perf_counter",
        "timer_resolution": resolution,
        "cpu": cpu,
        "cpu_count": os.cpu_count() or 1,
        "gc_enabled": gc.isenabled(),
        "gc_threshold": list(gc.get_threshold()),
    }


def main() -> None:
    channel = Channel(3, 4)
    cpu = pin_cpu()
    resolution = timer_resolution()
    channel.send(hello(resolution, cpu))
    lane = Lane(channel, resolution)
    while True:
        message = channel.receive()
        if message is None or message["type"] == "shutdown":
            break
        if message["type"] == "prepare":
            lane.prepare(message["request"], message["module"], message["name"])
        elif message["type"] == "round":
            lane.round(message["slot"], message["iterations"])
    for timed in lane.slots:
        if timed is not None:
            timed.close()


if __name__ == "__main__":
    # The benchmark modules' own directories come first; never dbtest's caller's cwd.
    main()
