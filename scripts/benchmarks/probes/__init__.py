"""Probes: measurements made inside the benchmark's environment (the one dbtest is
installed in), run as `scripts/bench _probe NAME ARGS...`. Each prints its
answer as one JSON line on stdout.

They reach dbtest through its public entry points only: `dbtest._core`
(`collect`, `select`), the command's Python entry (`dbtest.cli.main`), and workers
started and driven as the coordinator does (`driver`). A probe module is imported
only when its probe runs, so that the light ones import nothing of dbtest.
"""

from __future__ import annotations

import importlib

# name -> (module in this package, function taking the probe's arguments)
PROBES: dict[str, tuple[str, str]] = {
    "spin": ("plain", "probe_spin"),
    "versions": ("plain", "probe_versions"),
    "serial": ("plain", "probe_serial"),
    "coordinator": ("plain", "probe_coordinator"),
    "core": ("core", "probe_core"),
    "handshake": ("worker", "probe_handshake"),
    "worker": ("worker", "probe_worker"),
}


def run_probe(argv: list[str]) -> int:
    if not argv or argv[0] not in PROBES:
        raise SystemExit(f"bench: which probe? one of {', '.join(PROBES)}")
    module_name, function = PROBES[argv[0]]
    module = importlib.import_module(f"{__name__}.{module_name}")
    getattr(module, function)(argv[1:])
    return 0
