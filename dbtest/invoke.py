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


def end_fork_server(fork_server: tuple[int, int]) -> None:
    """Ends a fork server (`dbtest.launch.start_fork_server`) no run took."""
    import signal

    pid, fd = fork_server
    os.close(fd)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def run_tests(
    command: str,
    kinds: list[str],
    params: dict[str, Any],
    extra_args: list[str],
    fork_server: tuple[int, int] | None,
    pytest_args: list[str] | None = None,
) -> int:
    """Runs (or lists) tests with the options of `dbtest.cli_options` in ``params``
    (and pytest's options dbtest has none of, ``pytest_args``: `dbtest.pytest_args`).

    ``fork_server`` is this function's: handed to the coordinator when the
    command runs tests (only ``run`` starts workers), else ended once the
    command is done."""
    params = dict(params)
    if params.pop("collect_only"):
        command = "list"
    handed = fork_server if command == "run" else None
    try:
        args = _arguments(command, kinds, params, extra_args)
        args["pytest_args"] = list(pytest_args or [])
        from dbtest import _core

        sys.stdout.flush()
        sys.stderr.flush()
        try:
            return _core.run(to_json(args), handed)
        except KeyboardInterrupt:
            return exit_code("INTERRUPTED")
    finally:
        if fork_server is not None and handed is None:
            end_fork_server(fork_server)


def _arguments(command: str, kinds: list[str], params: dict[str, Any], extra_args: list[str]) -> dict[str, Any]:
    """What the coordinator reads (``rust/config``'s ``CliArgs``), from the
    parsed options."""
    no_capture = params.pop("no_capture")
    capture = params.pop("capture")
    fail_fast = params.pop("fail_fast")
    maxfail = params.pop("maxfail")
    flaky_result = params.pop("flaky_result")
    return {
        "command": command,
        "kinds": kinds,
        "paths": list(params.pop("paths")),
        "cwd": os.getcwd(),
        "python": sys.executable,
        "python_version": sys.version.split()[0],
        "capture": not (no_capture or capture == "no"),
        "maxfail": 1 if fail_fast else maxfail,
        "format": params.pop("output_format"),
        "flaky_fails": None if flaky_result is None else flaky_result == "fail",
        # Not given: the configuration decides.
        "import_all": params.pop("import_all") or None,
        "extra_args": list(extra_args),
        # Editable installs put the project's source roots here (`--changed`'s import graph).
        "sys_path": list(sys.path) if params.get("changed") is not None or params.get("watch") else [],
        "pytest_version": pytest_version(),
        **params,
    }


def pytest_version() -> str | None:
    """The version of the pytest this interpreter would import, from its
    ``pytest-X.Y.Z.dist-info`` directory (importing pytest, or importlib's
    metadata, would cost tens of milliseconds)."""
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        # pytest's own package (a bin directory holds a `pytest` script).
        if "_pytest" not in names:
            continue
        for name in names:
            # Not pytest-xdist-3.5.0.dist-info and the like: a digit follows pytest's own name.
            if name.startswith("pytest-") and name[7:8].isdigit() and name.endswith(".dist-info"):
                return name[len("pytest-") : -len(".dist-info")]
        return None
    return None
