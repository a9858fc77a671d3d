"""The worker's side of the wire protocol: the one Python definition of it.

`workers/PROTOCOL.md` is normative; `rust/protocol` is the coordinator's
definition. Both are checked against `workers/golden/vectors.json`.

A frame is a big-endian u32 body length followed by a msgpack map whose first
key is ``type``. Maps are built here with their keys in the declared order, so
that both sides encode a message to the same bytes.
"""

from __future__ import annotations

import os
import struct

import msgpack

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


PROTOCOL_VERSION = 6
MAX_FRAME_LEN = 32 * 1024 * 1024

# Field order of every message, and of the maps nested in them.
MODULE_REF = ("path", "name", "import_root")
PYTEST_OPTIONS = (
    "xfail_strict",
    "filterwarnings",
    "warning_filters",
    "escape_ids",
    "long_str_strategy",
    "strict_parametrization_ids",
    "empty_parameter_set_mark",
    "python_classes",
    "python_functions",
    "pythonpath",
    "usefixtures",
    "strict_markers",
    "inifile",
    "ini",
    "extra_args",
    "basetemp",
)
COVERAGE_OPTIONS = ("data_file", "source", "branch", "config_file", "context")
DISCOVERED = ("name", "tags")
SUBTEST_FAILURE = ("description", "outcome", "message", "traceback")
MESSAGES: dict[str, tuple[str, ...]] = {
    # coordinator -> worker
    "config": (
        "protocol",
        "worker",
        "rootdir",
        "capture",
        "output_limit",
        "traceback_file",
        "cache_dir",
        "pytest",
        "preload",
        "on_miss",
        "coverage",
    ),
    "run": ("batch", "module", "tests", "run_unlisted", "known", "collect_only"),
    "extend": ("batch", "unlisted", "tests", "order"),
    "shutdown": (),
    "reset": (),
    # worker -> coordinator
    "hello": ("protocol", "pid", "python"),
    "imported": ("batch", "duration", "unlisted", "order"),
    "result": (
        "batch",
        "position",
        "outcome",
        "phase",
        "error_kind",
        "duration",
        "message",
        "traceback",
        "stdout",
        "stderr",
        "subtests_passed",
        "subtests",
        "warnings",
    ),
    "fixture": ("module", "name", "phase", "duration", "message", "traceback", "stdout", "stderr"),
    "batch_done": ("batch",),
    "modules": ("files",),
    # coordinator -> benchmark lane (`dbtest.bench.lane`; `shutdown` as above)
    "prepare": ("request", "module", "name"),
    "round": ("slot", "iterations"),
    # benchmark lane -> coordinator
    "lane_hello": (
        "protocol",
        "pid",
        "python",
        "implementation",
        "machine",
        "timer",
        "timer_resolution",
        "cpu",
        "cpu_count",
        "gc_enabled",
        "gc_threshold",
    ),
    "prepared": ("request", "baseline", "members"),
    "sample": ("slot", "seconds", "gc_collections"),
    "failed": ("request", "slot", "name", "phase", "message", "traceback"),
}
NESTED: dict[tuple[str, str], tuple[str, ...]] = {
    ("config", "pytest"): PYTEST_OPTIONS,
    ("config", "preload"): MODULE_REF,
    ("config", "on_miss"): MODULE_REF,
    ("config", "coverage"): COVERAGE_OPTIONS,
    ("run", "module"): MODULE_REF,
    ("prepare", "module"): MODULE_REF,
    ("prepared", "members"): ("slot", "name", "iterations", "round_time"),
    ("imported", "unlisted"): DISCOVERED,
    ("result", "subtests"): SUBTEST_FAILURE,
}

_HEADER = struct.Struct(">I")
_packer = msgpack.Packer(use_bin_type=True, autoreset=True)


class ProtocolError(Exception):
    """The peer sent something this side cannot accept."""


def _ordered(fields: tuple[str, ...], value: dict[str, Any], where: str) -> dict[str, Any]:
    if set(value) != set(fields):
        missing = sorted(set(fields) - set(value))
        extra = sorted(set(value) - set(fields))
        raise ProtocolError(f"{where}: missing {missing}, unexpected {extra}")
    return {name: value[name] for name in fields}


def canonical(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` validated against its schema, with keys in protocol order."""
    kind = message.get("type")
    fields = MESSAGES.get(kind)  # type: ignore[arg-type]
    if fields is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    out: dict[str, Any] = {"type": kind}
    body = _ordered(fields, {k: v for k, v in message.items() if k != "type"}, kind)
    for name, value in body.items():
        nested = NESTED.get((kind, name))
        if nested is not None and isinstance(value, dict):
            value = _ordered(nested, value, f"{kind}.{name}")
        elif nested is not None and isinstance(value, list):
            value = [_ordered(nested, item, f"{kind}.{name}[]") for item in value]
        out[name] = value
    return out


def _escaped(value: Any) -> Any:
    """``value`` with every string made encodable as UTF-8: a lone surrogate
    (``os.fsdecode(b"\\xff")`` gives one) becomes its escape, ``\\udcff``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_escaped(key): _escaped(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(item) for item in value]
    return value


def encode(message: dict[str, Any]) -> bytes:
    """One complete frame. ``message`` must already have its keys in protocol order.

    Strings that UTF-8 cannot carry (lone surrogates, from test code) are sent
    escaped rather than failing the worker; only such a message pays for the
    second pass."""
    try:
        body = _packer.pack(message)
    except UnicodeEncodeError:
        body = _packer.pack(_escaped(message))
    if len(body) > MAX_FRAME_LEN:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds the {MAX_FRAME_LEN}-byte limit")
    return _HEADER.pack(len(body)) + body


def decode_body(body: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtocolError(f"undecodable frame: {exc}") from None
    if not isinstance(message, dict) or "type" not in message:
        raise ProtocolError("frame is not a message map")
    return message


def pytest_options(**overrides: Any) -> dict[str, Any]:
    """``config.pytest`` with pytest's defaults (what a project without pytest
    configuration gets), changed by ``overrides``."""
    options: dict[str, Any] = {
        "xfail_strict": False,
        "filterwarnings": [],
        "warning_filters": [],
        "escape_ids": True,
        "long_str_strategy": "short",
        "strict_parametrization_ids": False,
        "empty_parameter_set_mark": "skip",
        "python_classes": ["Test"],
        "python_functions": ["test"],
        "pythonpath": [],
        "usefixtures": [],
        "strict_markers": False,
        "inifile": None,
        "ini": {},
        "extra_args": [],
        "basetemp": "",
    }
    unknown = set(overrides) - set(options)
    if unknown:
        raise ProtocolError(f"config.pytest: unexpected {sorted(unknown)}")
    options.update(overrides)
    return options


def config(
    worker: int,
    rootdir: str,
    capture: bool,
    output_limit: int,
    traceback_file: str,
    cache_dir: str | None,
    pytest: dict[str, Any] | None = None,
    preload: list[dict[str, Any]] | None = None,
    on_miss: list[dict[str, Any]] | None = None,
    coverage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The coordinator's first message (for drivers other than the coordinator:
    tests and the benchmark probes)."""
    return {
        "type": "config",
        "protocol": PROTOCOL_VERSION,
        "worker": worker,
        "rootdir": rootdir,
        "capture": capture,
        "output_limit": output_limit,
        "traceback_file": traceback_file,
        "cache_dir": cache_dir,
        "pytest": pytest if pytest is not None else pytest_options(),
        "preload": preload or [],
        "on_miss": on_miss or [],
        "coverage": coverage,
    }


# Constructors for what the worker sends (hot path: plain dict literals in
# protocol order; tests check them against MESSAGES).


def hello(pid: int, python: str) -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "pid": pid, "python": python}


def imported(batch: int, duration: float, unlisted: list[dict[str, Any]], order: list[int]) -> dict[str, Any]:
    return {"type": "imported", "batch": batch, "duration": duration, "unlisted": unlisted, "order": order}


def discovered(name: str, tags: list[str]) -> dict[str, Any]:
    return {"name": name, "tags": tags}


def result(
    batch: int,
    position: int,
    outcome: str,
    phase: str,
    error_kind: str | None,
    duration: float,
    message: str | None,
    traceback: str | None,
    stdout: str | None,
    stderr: str | None,
    subtests_passed: int = 0,
    subtests: list[dict[str, Any]] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "type": "result",
        "batch": batch,
        "position": position,
        "outcome": outcome,
        "phase": phase,
        "error_kind": error_kind,
        "duration": duration,
        "message": message,
        "traceback": traceback,
        "stdout": stdout,
        "stderr": stderr,
        "subtests_passed": subtests_passed,
        "subtests": subtests or [],
        "warnings": warnings or [],
    }


# The frame of a passing test with nothing to report, from constant parts: the
# same bytes `encode(result(...))` gives (tests check it), in a fraction of the
# time. Most results are exactly this.
def _pack_items(items: list[tuple[str, Any]]) -> bytes:
    return b"".join(_packer.pack(key) + _packer.pack(value) for key, value in items)


_RESULT_HEAD = bytes([0x80 | (len(MESSAGES["result"]) + 1)]) + _pack_items([("type", "result")]) + _packer.pack("batch")
_RESULT_POSITION = _packer.pack("position")
_PASSED_MIDDLE = _pack_items([("outcome", "passed"), ("phase", "call"), ("error_kind", None)]) + _packer.pack(
    "duration"
)
_PASSED_TAIL = _pack_items(
    [
        ("message", None),
        ("traceback", None),
        ("stdout", None),
        ("stderr", None),
        ("subtests_passed", 0),
        ("subtests", []),
        ("warnings", []),
    ]
)
_FLOAT64 = struct.Struct(">Bd")


def passed_frame(batch: int, position: int, duration: float) -> bytes:
    """``encode(result(batch, position, "passed", "call", None, duration, None...))``."""
    body = b"".join(
        (
            _RESULT_HEAD,
            _packer.pack(batch),
            _RESULT_POSITION,
            _packer.pack(position),
            _PASSED_MIDDLE,
            _FLOAT64.pack(0xCB, duration),
            _PASSED_TAIL,
        )
    )
    return _HEADER.pack(len(body)) + body


def subtest_failure(description: str, outcome: str, message: str | None, traceback: str | None) -> dict[str, Any]:
    return {"description": description, "outcome": outcome, "message": message, "traceback": traceback}


def fixture(
    module: str,
    name: str,
    phase: str,
    duration: float,
    message: str | None,
    traceback: str | None,
    stdout: str | None,
    stderr: str | None,
) -> dict[str, Any]:
    return {
        "type": "fixture",
        "module": module,
        "name": name,
        "phase": phase,
        "duration": duration,
        "message": message,
        "traceback": traceback,
        "stdout": stdout,
        "stderr": stderr,
    }


def batch_done(batch: int) -> dict[str, Any]:
    return {"type": "batch_done", "batch": batch}


def modules(files: list[str]) -> dict[str, Any]:
    return {"type": "modules", "files": files}


class Channel:
    """Exact-frame reads and whole-frame writes on the two protocol fds.

    Reads use ``os.read`` loops rather than a buffered unpacker, which can hold a
    complete message back until more bytes arrive.
    """

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd

    def _read_exact(self, n: int) -> bytes | None:
        chunks = []
        while n:
            chunk = os.read(self.read_fd, n)
            if not chunk:
                if chunks:
                    raise ProtocolError("stream ended inside a frame")
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def receive(self) -> dict[str, Any] | None:
        """The next message, or None when the coordinator closed the pipe."""
        header = self._read_exact(4)
        if header is None:
            return None
        (length,) = _HEADER.unpack(header)
        if length > MAX_FRAME_LEN:
            raise ProtocolError(f"frame of {length} bytes exceeds the {MAX_FRAME_LEN}-byte limit")
        body = self._read_exact(length) if length else b""
        if body is None:
            raise ProtocolError("stream ended inside a frame")
        return decode_body(body)

    def send(self, message: dict[str, Any]) -> None:
        self.send_frame(encode(message))

    def send_frame(self, data: bytes) -> None:
        frame = memoryview(data)
        while frame:
            written = os.write(self.write_fd, frame)
            frame = frame[written:]
