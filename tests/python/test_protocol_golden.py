"""The worker's protocol definition against the golden frames shared with the Rust side."""

from __future__ import annotations

import json

import pytest

from dbtest.worker import protocol

from .conftest import REPO

VECTORS = json.loads((REPO / "workers" / "golden" / "vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_frame_decodes_and_reencodes_byte_for_byte(vector):
    frame = bytes.fromhex(vector["hex"])
    (length,) = protocol._HEADER.unpack(frame[:4])
    assert length == len(frame) - 4
    message = protocol.canonical(protocol.decode_body(frame[4:]))
    assert message == vector["value"]
    assert protocol.encode(message).hex() == vector["hex"]


def test_every_message_type_has_a_vector():
    names = {v["value"]["type"] for v in VECTORS}
    assert names == set(protocol.MESSAGES)


@pytest.mark.parametrize(
    "message",
    [
        protocol.hello(1, "3.11"),
        protocol.imported(1, 0.5, [protocol.discovered("t", ["a"])], [1, 0]),
        protocol.result(1, 0, "passed", "call", None, 0.1, None, None, None, None),
        protocol.fixture("m", "C::tearDownClass", "teardown", 0.1, "x", "tb", None, None),
        protocol.batch_done(3),
        protocol.modules(["/p/conftest.py", "/p/pkg/core.py"]),
    ],
    ids=lambda m: m["type"],
)
def test_constructors_build_keys_in_protocol_order(message):
    assert list(message) == list(protocol.canonical(message))


def test_canonical_rejects_missing_and_unknown_fields():
    with pytest.raises(protocol.ProtocolError):
        protocol.canonical({"type": "batch_done"})
    with pytest.raises(protocol.ProtocolError):
        protocol.canonical({"type": "batch_done", "batch": 1, "extra": 2})
    with pytest.raises(protocol.ProtocolError):
        protocol.canonical({"type": "nope"})


def test_oversized_frame_is_rejected_before_reading_it(tmp_path):
    import os

    read_fd, write_fd = os.pipe()
    os.write(write_fd, (protocol.MAX_FRAME_LEN + 1).to_bytes(4, "big"))
    channel = protocol.Channel(read_fd, write_fd)
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        channel.receive()
    os.close(read_fd)
    os.close(write_fd)


@pytest.mark.parametrize(("batch", "position"), [(0, 0), (1, 127), (300, 128), (70_000, 65_536), (2**32 - 1, 2**31)])
@pytest.mark.parametrize("duration", [0.0, 1e-7, 0.25, 123456.789])
def test_the_passed_fast_path_encodes_exactly_like_the_general_path(batch, position, duration):
    general = protocol.encode(
        protocol.result(batch, position, "passed", "call", None, duration, None, None, None, None)
    )
    assert protocol.passed_frame(batch, position, duration) == general


def test_the_fake_worker_speaks_the_current_protocol() -> None:
    """The Rust runner's tests drive workers/fake/worker.py: it must say hello
    with the version the coordinator speaks."""
    import ast

    tree = ast.parse((REPO / "workers" / "fake" / "worker.py").read_text())
    versions = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["PROTOCOL_VERSION"]
        and isinstance(node.value, ast.Constant)
    ]
    assert versions == [protocol.PROTOCOL_VERSION]
