"""Coverage measurement in a worker (``--cov``), with coverage.py.

Imported only when the run's ``config`` carries ``coverage``: a run without
``--cov`` never imports coverage.py (the worker's start path stays standard
library and msgpack).

Each worker measures into a parallel data file of its own under the run's
directory (``data_file`` with coverage.py's ``.host.pid.random`` suffix); a
worker forked from a fork server that started measuring before importing the
run's modules (``--import-all``) inherits the measurement and, being another
process, writes its own file (coverage.py picks a new name after a fork).
Processes the tests start are measured by coverage.py's own mechanism (the
``[run] patch = subprocess`` setting), into the same directory. At the end the
coordinator combines every file there and reports once (`dbtest.covreport`).

What a worker measured is saved every ``DBTEST_COVERAGE_SAVE_INTERVAL``
seconds (1 by default; checked after each test), at its end, when it is ended
with SIGTERM (a timeout) and when a test calls ``os._exit``: a worker that
crashes loses at most the last interval's lines.
"""

from __future__ import annotations

import os
import signal
import time

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_cov: Any = None
_interval = 1.0
_last_save = 0.0
_saving = False
# `--cov-context=test`: the running test's id, for its phases' contexts.
_contexts = False
_rootdir = ""
_module_rel = ""
_test_id = ""
_PHASE_CONTEXT = {"setup": "setup", "call": "run", "teardown": "teardown"}


def active() -> bool:
    return _cov is not None


def start(settings: dict[str, Any], rootdir: str) -> None:
    """Starts measuring as ``config.coverage`` says (once per process: a
    worker forked from a fork server that measures already goes on)."""
    global _cov, _interval, _last_save, _contexts, _rootdir
    if _cov is not None:
        return
    _rootdir = rootdir
    import coverage

    cov = coverage.Coverage(
        data_file=settings["data_file"],
        data_suffix=True,
        source=settings["source"],
        branch=settings["branch"],
        config_file=settings["config_file"],
    )
    # dbtest's own code (the worker runtime runs between and around tests) is
    # never the project's to measure, wherever dbtest is installed.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cov.set_option("run:omit", [*cov.get_option("run:omit"), os.path.join(package, "*")])
    # Saved before a test's `os._exit` ends the worker (coverage.py's own patch).
    patches = list(cov.get_option("run:patch") or [])
    if "_exit" not in patches:
        cov.set_option("run:patch", [*patches, "_exit"])
    # As pytest-cov: the sources a worker never imports are reported by the
    # final combination, not warned about by each worker.
    cov._warn_unimported_source = False
    cov._warn_preimported_source = False
    cov._warn_no_data = False
    cov.start()
    _cov = cov
    _interval = float(os.environ.get("DBTEST_COVERAGE_SAVE_INTERVAL", "1"))
    _last_save = time.monotonic()
    if settings["context"] == "test":
        from .builtins.phases import listen_to_phases

        _contexts = True
        listen_to_phases(_phase_changed)
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (a test driving a worker in-process)
        pass


def save() -> None:
    """Writes what was measured so far to this process's data file."""
    global _saving, _last_save
    if _cov is None or _saving:
        return
    _saving = True
    try:
        _cov.save()
    finally:
        _saving = False
        _last_save = time.monotonic()


def after_test() -> None:
    """After each result: save if the interval has passed."""
    if _contexts:
        _switch("")
    if time.monotonic() - _last_save >= _interval:
        save()


def batch_started(path: str) -> None:
    """Before a batch's module is imported: module-level lines belong to no
    test (as under pytest-cov, which imports every module before the first
    test)."""
    global _module_rel
    if _contexts:
        _module_rel = os.path.relpath(path, _rootdir).replace(os.sep, "/")
        _switch("")


def test_started(name: str) -> None:
    """``name`` (``Class::test[param]``) of the batch's module starts: with
    ``--cov-context=test`` its lines are recorded under pytest-cov's context
    names, ``<test id>|setup``, ``|run`` and ``|teardown``."""
    global _test_id
    if _contexts:
        _test_id = f"{_module_rel}::{name}"
        _switch(f"{_test_id}|run")


def finish() -> None:
    """The worker's end: stop measuring and save."""
    global _cov
    if _cov is None:
        return
    try:
        _cov.stop()
        save()
    finally:
        _cov = None


def _switch(context: str) -> None:
    if _cov is not None:
        _cov.switch_context(context)


def _phase_changed(phase: str) -> None:
    if _test_id:
        _switch(f"{_test_id}|{_PHASE_CONTEXT.get(phase, phase)}")


def _on_sigterm(signum: int, frame: object) -> None:
    """Ended from outside (a timeout): keep what was measured, then die of the
    signal as the coordinator expects."""
    try:
        finish()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
