"""The worker process: ``python -P -m dbtest.worker``.

It reads jobs on fd 3 and writes results on fd 4 (see `workers/PROTOCOL.md`),
runs in its own process group, and imports only what the tests it is given need.
"""

from __future__ import annotations

import gc
import os
import sys
from collections import deque

from . import descriptors, protocol

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# Where the worker's own complaints go: the original stderr pipe, which the
# coordinator drains and shows when a worker dies (fd 2 may be a capture file).
_diagnostics_fd = 2


def _claim_protocol_fds() -> tuple[int, int]:
    # Above anything a test is likely to open or close (see `descriptors`).
    return descriptors.move_high(3), descriptors.move_high(4)


def _enable_thread_dumps(path: str) -> None:
    import faulthandler
    import signal

    dump = descriptors.move_high(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644))
    faulthandler.enable(file=dump, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True, chain=False)


def capture_files(traceback_file: str) -> tuple[str, str]:
    """Where a test's output is captured: beside the thread-dump file, so that
    the coordinator can show what a test printed even when its worker died
    (see `workers/PROTOCOL.md`)."""
    stem = traceback_file[: -len(".tb")] if traceback_file.endswith(".tb") else traceback_file
    return stem + ".stdout", stem + ".stderr"


# The run's settings are applied (and its modules imported, with
# `--import-all`): in a worker forked from a fork server that did so already,
# only what differs per worker is left to do.
_prepared = False


def prepare(config: dict[str, Any]) -> tuple[int, int]:
    """Applies what every worker of a run sets up alike from its ``config``:
    the bytecode cache, pytest's settings, ``sys.path``, the fixture engine;
    then imports the ``preload`` modules (`--import-all`). The fork server calls
    it before forking, so that its workers inherit all of it. Returns the
    number of modules imported and of those that failed."""
    global _prepared
    from . import engine

    if config.get("coverage") is not None:
        # Before anything of the project is imported (conftests, `--import-all`'s
        # modules): their module-level lines count.
        from . import measure

        measure.start(config["coverage"], config["rootdir"])
    if _prepared:
        engine.engine().config.worker = config["worker"]
        return 0, 0
    from .rewrite import set_cache_dir, set_user_cache_dir, user_cache_dir

    set_cache_dir(config["cache_dir"])
    # `--no-cache`: dbtest keeps no cache of its own, the user-level one included.
    set_user_cache_dir(user_cache_dir() if config["cache_dir"] else None)
    from . import options

    options.configure(config["pytest"])
    # pytest's `pythonpath` setting: first on sys.path, in the order given.
    for path in reversed(options.current.pythonpath):
        sys.path.insert(0, path)
    engine.configure_from(config)
    # As under `python -m pytest`, the invocation directory is importable, but
    # last: installed packages (and dbtest itself, hence -P) are found first.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    _prepared = True
    if not config["preload"]:
        return 0, 0
    from .preload import import_all

    return import_all(config["preload"])


def main() -> int:
    jobs_fd, results_fd = _claim_protocol_fds()
    channel = protocol.Channel(jobs_fd, results_fd)
    channel.send(protocol.hello(os.getpid(), sys.version.split("\n")[0]))
    config = channel.receive()
    if config is None:
        return 0
    if config.get("type") != "config" or config.get("protocol") != protocol.PROTOCOL_VERSION:
        raise protocol.ProtocolError(f"expected config for protocol {protocol.PROTOCOL_VERSION}, got {config!r}")

    global _diagnostics_fd
    _diagnostics_fd = descriptors.move_high(os.dup(2))
    _enable_thread_dumps(config["traceback_file"])
    from .capture import FdCapture, NoCapture
    from .execute import Runner

    prepare(config)
    if config["on_miss"]:
        from . import preload

        preload.on_miss = config["on_miss"]

    if config["capture"]:
        capture: FdCapture | NoCapture = FdCapture(config["output_limit"], capture_files(config["traceback_file"]))
    else:
        capture = NoCapture()
    runner = Runner(channel, capture)
    descriptors.guard()
    # Everything loaded so far lives as long as the worker: straight to the oldest
    # generation (freeze, then unfreeze, moves it there without a collection, which
    # would walk it all and, in a forked worker, copy the pages it sits on). Tests
    # see the collector as under pytest: on, nothing frozen.
    gc.freeze()
    gc.unfreeze()
    gc.enable()
    pending: deque[dict[str, Any]] = deque()

    def wait_for_extend(batch: int) -> dict[str, Any]:
        # Jobs sent ahead of time may come first; keep them for later.
        while True:
            message = channel.receive()
            if message is None:
                raise SystemExit(0)
            if message["type"] == "extend" and message["batch"] == batch:
                return message
            pending.append(message)

    while True:
        message = pending.popleft() if pending else channel.receive()
        if message is None or message["type"] == "shutdown":
            break
        if message["type"] == "run":
            runner.run_batch(message, wait_for_extend)
        elif message["type"] == "reset":
            runner.reset()
            channel.send(protocol.modules(project_files(config["rootdir"])))
        else:
            raise protocol.ProtocolError(f"unexpected message {message['type']!r}")
    runner.finish()
    return 0


def project_files(rootdir: str) -> list[str]:
    """The source files of the imported modules that lie under ``rootdir``
    (conftests too): what a change must not have touched for this worker to
    serve another run (see `reset` in `workers/PROTOCOL.md`)."""
    prefix = os.path.join(rootdir, "")
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.startswith(prefix):
            files.add(path)
    return sorted(files)


def _finish_measuring() -> None:
    """Saves what `--cov` measured (imported only if coverage was started)."""
    measure = sys.modules.get("dbtest.worker.measure")
    if measure is not None:
        measure.finish()


def run() -> None:
    try:
        code = main()
    except protocol.ProtocolError as exc:
        os.write(_diagnostics_fd, f"dbtest worker: protocol error: {exc}\n".encode(errors="backslashreplace"))
        code = 70
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # a bug in the worker itself: say what it was
        import traceback

        complaint = "dbtest worker: internal error\n" + traceback.format_exc()
        os.write(_diagnostics_fd, complaint.encode(errors="backslashreplace"))
        code = 70
    # Skip interpreter teardown: threads or atexit hooks left by tests must not
    # keep a finished worker alive.
    try:
        _finish_measuring()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)
