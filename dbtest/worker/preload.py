"""`--import-all`: every selected test module imported before any test runs,
as pytest's collection imports them all (each after its conftests, in
collection order). The fork server does it once, before it forks the workers,
which inherit the modules; a worker started on its own does it itself.

Nothing here reports anything: what a module prints as it is imported goes
nowhere (a worker drops import-time output too), and a module that fails to
import (or skips itself) is left out of ``sys.modules``, so the worker that
runs its tests imports it again and reports what happens then."""

from __future__ import annotations

import os
import sys

from . import options
from .engine import engine
from .loader import load_module
from .warnfilters import Applied

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# Without `--import-all`: the run's test modules, imported (once) when a test
# fails on a submodule nothing had imported (see `execute.Runner`).
on_miss: list[dict[str, Any]] = []


def take_on_miss() -> list[dict[str, Any]]:
    """The modules to import on a miss, once per worker; empty afterwards."""
    global on_miss
    modules, on_miss = on_miss, []
    return modules


def _import_one(ref: dict[str, Any]) -> None:
    engine().load_conftests(ref["path"])
    if options.current.warnings.active:
        # pytest applies the configured warning filters while collecting too.
        with Applied(options.current.warnings, ()):
            load_module(ref)
    else:
        load_module(ref)


def import_all(refs: list[dict[str, Any]]) -> tuple[int, int]:
    """Imports the modules ``refs`` name (``path``, ``name``, ``import_root``),
    in order. Returns how many were imported and how many failed."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = (os.dup(1), os.dup(2))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    imported = failed = 0
    try:
        for ref in refs:
            try:
                _import_one(ref)
            except BaseException:  # noqa: BLE001 - the worker that runs its tests reports it
                sys.modules.pop(ref["name"], None)
                failed += 1
            else:
                imported += 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
    return imported, failed
