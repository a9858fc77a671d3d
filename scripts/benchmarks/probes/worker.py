"""Probes that drive real workers over their protocol: start-up (spawn to hello,
to the first result), and a worker's time through a whole tree, unprofiled and
under cProfile."""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from dbtest.worker import protocol

from ..stats import per_call
from .core import modules_of
from .driver import WORKER_ARGS, ProbeError, Worker, config_message, expect, run_message


def probe_handshake(argv: list[str]) -> None:
    """Spawn to hello, and spawn to the first result of a one-test batch, in the
    one-test project argv[0]; medians of argv[1] workers after one more."""
    root, reps = Path(argv[0]), int(argv[1])
    module = {"path": str(root / "test_one.py"), "name": "test_one", "import_root": str(root)}
    first_frames = protocol.encode(config_message(root, None)) + protocol.encode(
        run_message(1, module, ["test_one"], known=None)
    )
    hello, first = [], []
    for _ in range(reps + 1):
        start = time.perf_counter()
        worker = Worker(root)
        messages = worker.messages()
        expect(messages, "hello")
        hello.append(time.perf_counter() - start)
        worker.send(first_frames)
        if not any(message["type"] == "result" for message in messages):
            raise ProbeError("the worker ended before its first result")
        first.append(time.perf_counter() - start)
        worker.wait()
    print(json.dumps({"hello": statistics.median(hello[1:]), "first_result": statistics.median(first[1:])}))


# A worker under cProfile from start to exit; argv[1] is where the statistics go.
# The worker leaves with os._exit (no interpreter teardown), so the profile is
# written on that way out, or at exit if it ever returns normally.
PROFILED_WORKER = """\
import atexit, cProfile, os, runpy, sys
path, profiler, exit_now = sys.argv[1], cProfile.Profile(), os._exit
def write_profile():
    if not os.path.exists(path):
        profiler.disable()
        profiler.dump_stats(path)
def leave(code):
    write_profile()
    exit_now(code)
os._exit = leave
atexit.register(write_profile)
del sys.argv[1:]
profiler.enable()
runpy.run_module("dbtest.worker", run_name="__main__", alter_sys=True)
"""


def run_tree(root: Path, profile_to: Path | None = None) -> dict[str, Any]:
    """One worker through every module of ``root``, every batch queued at once (a
    thread writes them while this one reads results): the time from the first job
    written to the last batch done, and what the worker's messages say."""
    modules = modules_of(root)
    jobs = b"".join(
        protocol.encode(run_message(batch, ref, tests, known=tests)) for batch, (ref, tests) in enumerate(modules)
    )
    args = WORKER_ARGS if profile_to is None else ("-P", "-c", PROFILED_WORKER, str(profile_to))
    worker = Worker(root, args, quiet=False)
    messages = worker.messages()
    try:
        expect(messages, "hello")
        worker.send(protocol.encode(config_message(root, root / ".dbtest")))
    except BaseException:
        worker.kill()
        raise

    def write_jobs() -> None:
        worker.send(jobs)
        worker.close_jobs()

    writer = threading.Thread(target=write_jobs, daemon=True)
    outcomes: Counter[str] = Counter()
    imports = test_time = 0.0
    unlisted: list[str] = []
    start = end = time.perf_counter()
    writer.start()
    for message in messages:
        kind = message["type"]
        if kind == "result":
            outcomes[message["outcome"]] += 1
            test_time += message["duration"]
        elif kind == "imported":
            imports += message["duration"]
            unlisted += [found["name"] for found in message["unlisted"]]
        elif kind == "batch_done":
            end = time.perf_counter()
    writer.join()
    code = worker.wait()
    if code != 0 or unlisted or set(outcomes) - {"passed"}:
        raise ProbeError(f"worker run of {root}: exit {code}, outcomes {dict(outcomes)}, unlisted {unlisted[:5]}")
    return {
        "seconds": end - start,
        "passed": outcomes["passed"],
        "counts": dict(outcomes),
        "imports": imports,
        "test_time": test_time,
    }


def top_functions(stats_file: Path, limit: int = 25) -> dict[str, Any]:
    import pstats

    stats = pstats.Stats(str(stats_file))
    rows = []
    total = 0.0
    for (filename, line, name), (cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += tt
        short = filename.split("site-packages/")[-1] if "site-packages/" in filename else Path(filename).name
        where = f"{short}:{line}({name})" if line else name
        rows.append({"function": where, "ncalls": nc if nc == cc else f"{nc}/{cc}", "tottime": tt, "cumtime": ct})
    rows.sort(key=lambda r: r["tottime"], reverse=True)
    return {"total": total, "top": rows[:limit]}


def components(root: Path, run: dict[str, Any]) -> dict[str, float]:
    """A run's time per test as the worker's own messages divide it, and the cost
    of a test call and of a result frame alone (in this process)."""
    ref, names = modules_of(root)[0]
    spec = importlib.util.spec_from_file_location(f"bench_probe_{ref['name']}", ref["path"])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function = getattr(module, names[0])
    channel = protocol.Channel(os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY))
    reps, tests = 5000, max(1, run["passed"])
    rest = run["seconds"] - run["imports"] - run["test_time"]
    return {
        "test function call (floor)": per_call(reps, function),
        "protocol.result + encode + write": per_call(
            reps,
            lambda: channel.send(protocol.result(1, 0, "passed", "call", None, 1e-6, None, None, None, None)),
        ),
        "protocol.passed_frame + write": per_call(reps, lambda: channel.send_frame(protocol.passed_frame(1, 0, 1e-6))),
        "worker, per test: first job sent → last batch_done": run["seconds"] / tests,
        "of which importing modules (`imported` durations)": run["imports"] / tests,
        "of which in tests (`result` durations)": run["test_time"] / tests,
        "of which the rest: the worker's own work per test, its result frames, the pipe": rest / tests,
    }


def probe_worker(argv: list[str]) -> None:
    """One worker through every module of the tree of loose modules argv[0]; with
    --profile, also the per-test components and a second run under cProfile."""
    root = Path(argv[0])
    run = run_tree(root)
    result: dict[str, Any] = dict(run)
    if "--profile" in argv:
        with tempfile.TemporaryDirectory(prefix="dbtest-bench-profile-") as scratch:
            stats_file = Path(scratch) / "worker.prof"
            profiled = run_tree(root, profile_to=stats_file)
            if not stats_file.exists():
                raise ProbeError("the profiled worker wrote no profile")
            result["profile"] = top_functions(stats_file)
        result["passed"] = profiled["passed"]
        result["components"] = components(root, run)
    print(json.dumps(result))
