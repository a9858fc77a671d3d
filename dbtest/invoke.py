"""Handing a parsed command line to the Rust coordinator (``dbtest._core.run``).

Both parsers of the command line (`dbtest.fastcli` for the common ones,
`dbtest.cli`'s click commands for the rest) end here.
"""

from __future__ import annotations

import os
import sys

# typing costs milliseconds of start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def exit_code(name: str) -> int:
    """The exit code called ``name`` (``USAGE_ERROR``, ``INTERRUPTED``, ...), from the
    coordinator's definition. Read on the way out only: loading the native module
    would add to every ``dbtest --version``."""
    from dbtest import _core

    return int(getattr(_core, f"EXIT_{name}"))


def to_json(value: Any) -> str:
    """``json.dumps`` of the command line's arguments (strings, numbers, booleans,
    None, lists and dicts of them), without importing ``json``: with what it
    imports (``re``, ``enum``) it costs some 8 ms of every start-up."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        # JSON has no infinity or NaN: such a value is as good as not given.
        return repr(value) if abs(value) < float("inf") else "null"
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json_string(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    raise TypeError(f"cannot pass {type(value).__name__} to the coordinator")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _json_string(text: str) -> str:
    """As ``json.dumps`` writes a string: ASCII only, everything else escaped."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    parts = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            parts.append(_ESCAPES[char])
        elif 0x20 <= code < 0x7F:
            parts.append(char)
        elif code < 0x10000:
            parts.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            parts.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    return '"' + "".join(parts) + '"'


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def interrupt_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled, `timeout`) ends the run as Ctrl-C does: the
    coordinator stops dispatching, ends the workers, reports what finished and
    cleans up, instead of dying where it stands."""
    import signal

    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (dbtest called from a thread): leave it be
        pass


def run_tests(
    command: str,
    kinds: list[str],
    params: dict[str, Any],
    extra_args: list[str],
    fork_server: tuple[int, int] | None,
) -> int:
    """Runs (or lists) tests with the options of `dbtest.cli_options` in ``params``."""
    params = dict(params)
    if params.pop("collect_only"):
        command = "list"
    no_capture = params.pop("no_capture")
    capture = params.pop("capture")
    fail_fast = params.pop("fail_fast")
    maxfail = params.pop("maxfail")
    flaky_result = params.pop("flaky_result")
    args = {
        "command": command,
        "kinds": kinds,
        "paths": list(params.pop("paths")),
        "cwd": os.getcwd(),
        "python": sys.executable,
        "capture": not (no_capture or capture == "no"),
        "maxfail": 1 if fail_fast else maxfail,
        "format": params.pop("output_format"),
        "flaky_fails": None if flaky_result is None else flaky_result == "fail",
        # Not given: the configuration decides.
        "import_all": params.pop("import_all") or None,
        "extra_args": list(extra_args),
        **params,
    }
    from dbtest import _core

    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return _core.run(to_json(args), fork_server if command == "run" else None)
    except KeyboardInterrupt:
        return exit_code("INTERRUPTED")
