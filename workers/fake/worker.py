"""A deliberately misbehaving stand-in for `python -m dbtest.worker`.

Used by the coordinator's fault tests (rust/runner/tests/fake_workers.rs):
``python workers/fake/worker.py MODE`` speaks just enough of the protocol
(workers/PROTOCOL.md) to misbehave in one precise way. Standard library and
msgpack only, independent of dbtest's own worker code on purpose.

Modes:
  good              answer every test with "passed" (sanity check of the harness)
  hang              say hello, take jobs, never answer
  crash_mid_frame   start a result frame, stop halfway, exit 1
  corrupt           send a frame whose body is not msgpack
  oversized         announce a 100 MB frame
  flood             write 50 MB to stdout and stderr, then behave like `good`
  silent_exit       exit 0 before saying hello
  exit_after_hello  say hello, then exit 3 once a job arrives
  wrong_protocol    say hello with protocol version 999
  gated             like `good`, but a test whose name starts with `test_gated`
                    passes only once the file $DBTEST_FAKE_GATE exists
  grow              like `good`, but each batch keeps 32 MB more memory, and each
                    result's message is "pid <worker pid>"
  unlisted          like `good`, and its module defines the tests named in
                    $DBTEST_FAKE_DEFINED (comma-separated): with `run_unlisted`,
                    those neither listed nor known are reported, and the ones
                    `extend` admits are run

With `--fork-server PARENT_PID` after MODE it is a fake fork server instead
(fork_server.py), forking workers in MODE.
"""

from __future__ import annotations

import os
import struct
import sys
import time

import msgpack

JOBS, RESULTS = 3, 4


def send(message: dict) -> None:
    body = msgpack.packb(message, use_bin_type=True)
    os.write(RESULTS, struct.pack(">I", len(body)) + body)


def read_exact(n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = os.read(JOBS, n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def receive() -> dict | None:
    header = read_exact(4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    body = read_exact(length)
    return None if body is None else msgpack.unpackb(body, raw=False)


# Keep equal to PROTOCOL_VERSION (tests/python/test_protocol_golden.py checks it).
PROTOCOL_VERSION = 6


def hello(protocol: int = PROTOCOL_VERSION) -> None:
    send({"type": "hello", "protocol": protocol, "pid": os.getpid(), "python": "3.99.0 (fake worker)"})


def result(batch: int, position: int, message: str | None = None) -> dict:
    return {
        "type": "result", "batch": batch, "position": position, "outcome": "passed", "phase": "call",
        "error_kind": None, "duration": 0.001, "message": message, "traceback": None, "stdout": None,
        "stderr": None, "subtests_passed": 0, "subtests": [], "warnings": [],
    }


def wait_for_gate() -> None:
    gate = os.environ["DBTEST_FAKE_GATE"]
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)


def unlisted_of(message: dict) -> list[str]:
    if not message["run_unlisted"]:
        return []
    listed = {*message["tests"], *message["known"]}
    defined = [n for n in os.environ.get("DBTEST_FAKE_DEFINED", "").split(",") if n]
    return [n for n in defined if n not in listed]


def serve_good(mode: str = "good") -> None:
    kept = []
    while True:
        message = receive()
        if message is None or message["type"] == "shutdown":
            return
        if message["type"] == "run":
            batch = message["batch"]
            names = list(message["tests"])
            unlisted = unlisted_of(message) if mode == "unlisted" else []
            send({
                "type": "imported", "batch": batch, "duration": 0.0,
                "unlisted": [{"name": n, "tags": []} for n in unlisted], "order": [],
            })
            order = list(range(len(names)))
            if unlisted:
                extend = receive()
                if extend is None or extend["type"] != "extend":
                    return
                names.extend(unlisted[i] for i in extend["unlisted"])
                names.extend(extend["tests"])
                order = list(extend["order"])
            note = None
            if mode == "grow":
                kept.append(b"x" * (32 << 20))
                note = f"pid {os.getpid()}"
            for position in order:
                if mode == "gated" and names[position].startswith("test_gated"):
                    wait_for_gate()
                send(result(batch, position, note))
            send({"type": "batch_done", "batch": batch})


def next_run() -> dict:
    while True:
        message = receive()
        if message is None:
            sys.exit(0)
        if message["type"] == "run":
            return message


def main(mode: str) -> None:
    if mode in ("gated", "grow", "unlisted"):
        hello()
        serve_good(mode)
        return
    if mode == "silent_exit":
        sys.exit(0)
    if mode == "wrong_protocol":
        hello(999)
        serve_good()
        return
    hello()
    if mode == "good":
        serve_good()
    elif mode == "hang":
        while receive() is not None:
            pass
    elif mode == "crash_mid_frame":
        run = next_run()
        frame = msgpack.packb(result(run["batch"], 0), use_bin_type=True)
        os.write(RESULTS, struct.pack(">I", len(frame)) + frame[: len(frame) // 2])
        os._exit(1)
    elif mode == "corrupt":
        run = next_run()
        send({"type": "imported", "batch": run["batch"], "duration": 0.0, "unlisted": [], "order": []})
        os.write(RESULTS, struct.pack(">I", 3) + b"\xc1\xc1\xc1")
        serve_good()
    elif mode == "oversized":
        next_run()
        os.write(RESULTS, struct.pack(">I", 100 * 1024 * 1024) + b"x" * 1024)
        serve_good()
    elif mode == "flood":
        block = b"flood " * 10_000 + b"\n"
        for _ in range(50 * 1024 * 1024 // len(block)):
            os.write(1, block)
            os.write(2, block)
        serve_good()
    elif mode == "exit_after_hello":
        next_run()
        os._exit(3)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    if "--fork-server" in sys.argv:
        import fork_server

        fork_server.main(main, sys.argv[1])
    main(sys.argv[1])
