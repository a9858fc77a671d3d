"""The ``dbtest`` console command: starts the workers' fork server, then hands
the command line to the click shim (`dbtest.cli`).

Importing click and parsing the command line costs some 30 ms; so does starting
the fork server (an interpreter that imports the worker runtime, see
`dbtest/worker/forkserver.py`), which needs nothing from the command line. Done
in this order they overlap on any machine with two cores, and the first
workers are forked as soon as the coordinator wants them. Commands that start
no worker (``list``, ``merge``, ``--help``, ``--version``: `cli_options.NO_WORKER_WORDS`)
skip it; a fork server that is not handed to the coordinator is ended before
exit (`dbtest.invoke.run_tests` decides).
"""

from __future__ import annotations

import gc
import os
import sys


def start_fork_server(argv: list[str]) -> tuple[int, int] | None:
    """Starts ``python -P -m dbtest.worker --fork-server`` with one end of a Unix
    socket on its fd 3; returns its pid and the other end's fd (ours to close)."""
    from dbtest.cli_options import NO_WORKER_WORDS

    if NO_WORKER_WORDS.intersection(argv) or not sys.platform.startswith("linux"):
        return None
    import _socket

    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    # dup2 of fd 3 onto itself would leave it close-on-exec: hand over a copy.
    copied = theirs.fileno() == 3
    child_end = os.dup(theirs.fileno()) if copied else theirs.fileno()
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-P", "-m", "dbtest.worker", "--fork-server", str(os.getpid())],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, child_end, 3),
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            ],
            setpgroup=0,
        )
    except (OSError, TypeError, ValueError):  # no usable sys.executable: workers start the slow way
        ours.close()
        return None
    finally:
        if copied:
            os.close(child_end)
        theirs.close()
    return pid, ours.detach()


def _run_parsed(
    parsed: tuple[str, dict[str, object]], extra: list[str], pytest_args: list[str], fork_server: tuple[int, int] | None
) -> int:
    """A command line `dbtest.fastcli` understood: straight to the coordinator."""
    from dbtest.cli_options import TEST_COMMANDS
    from dbtest.invoke import interrupt_on_sigterm, run_tests

    interrupt_on_sigterm()
    name, params = parsed
    command, kinds, _ = TEST_COMMANDS[name]
    return run_tests(command, kinds, params, extra, fork_server, pytest_args)


def main() -> None:
    # Collections during start-up would only walk the modules being imported.
    gc.disable()
    argv = sys.argv[1:]
    # A shell asking for completions (click's protocol): click answers, nothing runs.
    completing = "_DBTEST_COMPLETE" in os.environ
    fork_server = None if completing else start_fork_server(argv)
    own, extra = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    from dbtest import fastcli
    from dbtest.cli_options import OTHER_COMMANDS, OWN_NAMES

    pytest_args: list[str] = []
    if not completing and not (own and own[0] in OTHER_COMMANDS):
        from dbtest import pytest_args as pytest_options

        own, pytest_args = pytest_options.split(own, OWN_NAMES)
    parsed = None if completing else fastcli.parse(own)
    if parsed is None:
        from dbtest import cli
    # What is loaded lives as long as the command: kept out of later collections.
    gc.freeze()
    gc.enable()

    try:
        if parsed is not None:
            code = _run_parsed(parsed, extra, pytest_args, fork_server)
        else:
            cli.main([*own, "--", *extra] if "--" in argv else own, fork_server, pytest_args)
            code = 0
    except KeyboardInterrupt:
        from dbtest.invoke import exit_code

        code = exit_code("INTERRUPTED")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if not isinstance(exc.code, (int, type(None))):
            sys.stderr.write(f"{exc.code}\n")
    # The run is over and reported: the interpreter's teardown (modules, the
    # native coordinator) would only add milliseconds to every invocation.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (`dbtest | head`): nothing left to say
            pass
    os._exit(code)
