"""Probes that need no worker: the busy loop's speed, the versions in the
environment, the serial test time of a tree, and the coordinator's own usage."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from ..generate import SPIN_SOURCE


def probe_spin(_: list[str]) -> None:
    """Iterations of the busy loop per second (the best of 7 rounds)."""
    namespace: dict[str, Any] = {}
    exec(SPIN_SOURCE, namespace)
    spin = namespace["_spin"]
    n, best = 200_000, float("inf")
    for _ in range(7):
        start = time.perf_counter()
        spin(n)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"per_second": n / best}))


def probe_versions(_: list[str]) -> None:
    from importlib.metadata import PackageNotFoundError, version

    names = {"dbtest": "dbtest", "pytest": "pytest", "xdist": "pytest-xdist", "pytest_asyncio": "pytest-asyncio"}
    found = {key: version(dist) for key, dist in names.items()}
    for peer in ("karva", "rustest"):
        try:
            found[peer] = version(peer)
        except PackageNotFoundError:
            found[peer] = "not installed"
    found["python"] = platform.python_version()
    print(json.dumps(found))


def probe_serial(argv: list[str]) -> None:
    """Calls every test function of the tree argv[0]'s modules in one interpreter."""
    import importlib.util

    total, longest, count = 0.0, 0.0, 0
    for path in sorted(Path(argv[0]).rglob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"bench_serial_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, func in vars(module).items():
            if name.startswith("test_") and callable(func):
                start = time.perf_counter()
                func()
                took = time.perf_counter() - start
                total, longest, count = total + took, max(longest, took), count + 1
    print(json.dumps({"total": total, "longest": longest, "count": count}))


def probe_coordinator(argv: list[str]) -> None:
    """`dbtest ARGV[1:]` through the command's Python entry, then this process's
    own peak RSS and CPU time (the coordinator's: workers are other processes)
    written to the file argv[0]."""
    import resource

    from dbtest.cli import main

    code: int = 0
    try:
        main(argv[1:])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(argv[0]).write_text(json.dumps({"maxrss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}))
    sys.exit(code)
