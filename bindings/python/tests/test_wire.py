"""Messages: the seed's dict shapes, CBOR frames, and refusal of invalid input."""

from __future__ import annotations

import copy
import struct
from typing import Any

import pytest

import scuttle
from conftest import pipe


def test_single_pipe_seed_usage() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("greeting", "hello")
    b.set("answer", 42)
    a.gossip()
    digest = a.read()
    assert digest == [
        {"digest": True, "source_id": "a", "version": 1},
        {"digest": True, "done": True},
    ]
    for m in digest:
        b.write(m)
    answer = b.read()
    updates = [m for m in answer if "key" in m]
    assert updates == [
        {
            "key": "answer",
            "value": 42,
            "source_id": "b",
            "version": 1,
            "timestamp": updates[0]["timestamp"],
            "prev": 0,
        }
    ]
    digests = [m for m in answer if m.get("digest")]
    assert all(m["reply"] is True for m in digests)
    assert digests[-1] == {"digest": True, "done": True, "reply": True}
    assert {"digest": True, "source_id": "a", "version": 0, "reply": True} not in digests
    for m in answer:
        a.write(m)
    back = a.read()
    assert [m["key"] for m in back] == ["greeting"]
    for m in back:
        b.write(m)
    assert a.read() == [] and b.read() == []
    assert a["answer"] == 42 and b["greeting"] == "hello"
    assert a.version == 1 and b.version == 1


def test_delete_shape() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.delete("k")
    b.gossip()
    for m in b.read():
        a.write(m)
    news = [m for m in a.read() if "key" in m]
    assert news == [
        {
            "key": "k",
            "deleted": True,
            "source_id": "a",
            "version": 1,
            "timestamp": news[0]["timestamp"],
            "prev": 0,
        }
    ]


def test_seed_shaped_update_without_prev_or_timestamp() -> None:
    g = scuttle.Gossip("b")
    g.write({"key": "age", "value": 100, "source_id": "#A", "version": 10})
    assert g["age"] == 100
    assert g.version == 10 and g.watermark("#A") == 10
    e = g.entry("age")
    assert e is not None and e.timestamp == 0 and e.source_id == "#A"
    # unknown fields are ignored
    g.write({"key": "x", "value": None, "source_id": "#A", "version": 11, "extra": [1]})
    assert "x" in g and g["x"] is None


def test_read_n_limits() -> None:
    g = scuttle.Gossip("a")
    for i in range(3):
        g.set(f"k{i}", i)
    g.write({"key": "x", "value": 1, "source_id": "x", "version": 1})
    g.gossip()  # two digest entries (a, x) and done
    assert len(g.read(2)) == 2
    assert len(g.read(0)) == 0
    assert g.read() == [{"digest": True, "done": True}]


def test_explicit_peers_keep_separate_queues() -> None:
    g = scuttle.Gossip("a")
    g.set("k", 1)
    g.gossip(peer="x")
    g.gossip(peer="y")
    assert g.read() == []
    assert len(g.read(peer="x")) == 2
    assert len(g.read(peer="y")) == 2


def test_bytes_pipe() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("k", {"nested": [1, b"2"]})
    a.gossip()
    frames = a.read_bytes()
    assert isinstance(frames, bytes)
    (length,) = struct.unpack(">I", frames[:4])
    assert 0 < length < len(frames)
    assert b.write_bytes(frames) == 2
    assert a.write_bytes(b.read_bytes()) == 1  # b knows nothing: an empty reply digest
    assert b.write_bytes(a.read_bytes()) == 1  # the news
    assert b["k"] == {"nested": [1, b"2"]}
    assert b.write_bytes(b"") == 0


def test_read_bytes_n_and_one_frame_at_a_time() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("k", 1)
    a.gossip()
    one = a.read_bytes(1)
    assert b.write_bytes(one) == 1
    assert b.write_bytes(a.read_bytes(1)) == 1
    assert a.read_bytes() == b""


VALID_UPDATE = {"key": "k", "value": 1, "source_id": "x", "version": 5, "timestamp": 0, "prev": 0}

INVALID: list[Any] = [
    "not a dict",
    ["digest", True],
    None,
    {},
    {"digest": True},
    {"digest": True, "source_id": "x"},
    {"digest": True, "version": 1},
    {"digest": 1, "done": True},
    {"digest": "yes", "source_id": "x", "version": 1},
    {"digest": True, "source_id": 3, "version": 1},
    {"digest": True, "source_id": "x", "version": -1},
    {"digest": True, "source_id": "x", "version": 2**64},
    {"digest": True, "source_id": "x", "version": True},
    {"digest": True, "source_id": "x", "version": 1.0},
    {"digest": True, "source_id": "x", "version": "1"},
    {"digest": True, "done": True, "reply": "no"},
    {"key": "k", "source_id": "x", "version": 1},
    {"value": 1, "source_id": "x", "version": 1},
    {"key": "k", "value": 1, "version": 1},
    {"key": "k", "value": 1, "source_id": "x"},
    {"key": 1, "value": 1, "source_id": "x", "version": 1},
    {"key": "k", "value": 1, "source_id": "x", "version": 0},
    {"key": "k", "value": 1, "source_id": "x", "version": -5},
    {"key": "k", "value": 1, "source_id": "x", "version": 2**64},
    {"key": "k", "value": 1, "source_id": "x", "version": 3, "prev": 3},
    {"key": "k", "value": 1, "source_id": "x", "version": 3, "prev": -1},
    {"key": "k", "value": 1, "source_id": "x", "version": 3, "timestamp": -1},
    {"key": "k", "value": 1, "source_id": "x", "version": 3, "timestamp": "now"},
    {"key": "k", "value": 1, "deleted": True, "source_id": "x", "version": 3},
    {"key": "k", "deleted": "yes", "source_id": "x", "version": 3},
    {"key": "k", "value": (1, 2), "source_id": "x", "version": 3},
    {"key": "k", "value": object(), "source_id": "x", "version": 3},
    {"key": "k", "value": 2**70, "source_id": "x", "version": 3},
    {"reset": True},
    {"reset": True, "entries": []},
    {"reset": True, "watermarks": [], "entries": "no"},
    {"reset": True, "watermarks": [["x"]], "entries": []},
    {"reset": True, "watermarks": [["x", -1]], "entries": []},
    {"reset": True, "watermarks": "x", "entries": []},
    {"reset": True, "watermarks": [], "entries": [{"key": "k", "source_id": "x", "version": 1}]},
    {"reset": True, "watermarks": [], "entries": [{"key": "k", "value": 1, "source_id": "x", "version": 0}]},
    {"reset": True, "watermarks": [], "entries": [5]},
]


def _busy_node() -> scuttle.Gossip:
    """A node with state, history, a half-received digest and queued messages."""
    g = scuttle.Gossip("a")
    g.set("mine", 1)
    g.write({"key": "theirs", "value": 2, "source_id": "x", "version": 4})
    g.write({"digest": True, "source_id": "x", "version": 1}, peer="other")
    g.gossip()
    return g


def _observe(g: scuttle.Gossip) -> Any:
    return (
        {k: (e.value, e.version, e.source_id) for k, e in g.state.items()},
        g.version,
        g.watermarks,
        len(g.history),
        g.pending(),
        g.pending("other"),
    )


@pytest.mark.parametrize("msg", INVALID, ids=lambda m: repr(m)[:60])
def test_invalid_messages_raise_value_error_and_change_nothing(msg: Any) -> None:
    g = _busy_node()
    before = _observe(g)
    original = copy.copy(msg) if isinstance(msg, dict) else msg
    with pytest.raises(ValueError) as info:
        g.write(msg)
    assert isinstance(info.value, scuttle.InvalidMessageError)
    assert _observe(g) == before
    # the queue content is intact too
    assert g.read() == _busy_node().read()
    if isinstance(msg, dict):
        assert msg == original


def test_invalid_message_does_not_break_a_pending_digest() -> None:
    g = _busy_node()
    with pytest.raises(ValueError):
        g.write({"digest": True, "source_id": "x", "version": -1}, peer="other")
    g.write({"digest": True, "done": True}, peer="other")
    answer = g.read(peer="other")
    # the digest said x:1, so the news for "other" holds x's version 4 and our own write
    assert sorted((m["source_id"], m["version"]) for m in answer if "key" in m) == [("a", 1), ("x", 4)]


def _frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


GARBAGE: list[bytes] = [
    b"\x00",
    b"\x00\x00\x00",
    b"\x00\x00\x00\x05abc",
    b"\xff\xff\xff\xff" + b"x" * 10,
    _frame(b"\xff\xfe\xfd"),
    _frame(b"not cbor at all"),
    _frame(b"\xa0"),  # an empty map: an update without fields
    _frame(b"\x01"),  # the integer 1
    _frame(b"\xa1\x66digest\xf5") + b"\x00\x00\x00\x01\xa0",
    # {"key": "k", "value": tag(1000, 1), "source_id": "x", "version": 1}
    _frame(
        b"\xa4\x63key\x61k\x65value\xd9\x03\xe8\x01\x69source_id\x61x\x67version\x01"
    ),
    # version -1
    _frame(b"\xa4\x63key\x61k\x65value\x01\x69source_id\x61x\x67version\x20"),
    # a map key that is a list
    _frame(b"\xa4\x63key\x61k\x65value\xa1\x80\x01\x69source_id\x61x\x67version\x01"),
]


@pytest.mark.parametrize("data", GARBAGE, ids=lambda d: d[:24].hex())
def test_garbage_bytes_raise_value_error_and_change_nothing(data: bytes) -> None:
    g = _busy_node()
    before = _observe(g)
    with pytest.raises(ValueError):
        g.write_bytes(data)
    assert _observe(g) == before


def test_valid_hand_made_frame_is_accepted() -> None:
    g = scuttle.Gossip("a")
    body = b"\xa4\x63key\x61k\x65value\x01\x69source_id\x61x\x67version\x01"
    assert g.write_bytes(_frame(body)) == 1
    assert g["k"] == 1


def test_a_bad_frame_after_good_ones_applies_none() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("k", 1)
    a.gossip()
    frames = a.read_bytes() + b"\x00\x00"
    with pytest.raises(ValueError):
        b.write_bytes(frames)
    assert b.pending() == 0 and b.version == 0


def test_oversize_frames_are_refused() -> None:
    a = scuttle.Gossip("a", max_frame_size=128)
    with pytest.raises(ValueError, match="cannot be sent"):
        a.set("k", "x" * 200)
    assert "k" not in a and a.version == 0
    assert a.set("k", "small") is True
    # an update received from a peer with a larger limit cannot be relayed over frames
    a.write({"key": "big", "value": "x" * 200, "source_id": "z", "version": 1})
    a.write({"digest": True, "done": True})
    with pytest.raises(ValueError):
        a.read_bytes()
    b = scuttle.Gossip("b", max_frame_size=128)
    big = _frame(b"\x00" * 200)
    with pytest.raises(ValueError):
        b.write_bytes(big)


def test_dict_pipe_and_bytes_pipe_agree() -> None:
    a1, b1 = scuttle.Gossip("a"), scuttle.Gossip("b")
    for i in range(5):
        a1.set(f"k{i}", [i, str(i)])
        b1.set(f"j{i}", {"i": i})
    pipe(a1, b1)
    a2, b2 = scuttle.Gossip("a"), scuttle.Gossip("b")
    for i in range(5):
        a2.set(f"k{i}", [i, str(i)])
        b2.set(f"j{i}", {"i": i})
    a2.gossip()
    while True:
        x = a2.read_bytes()
        b2.write_bytes(x)
        y = b2.read_bytes()
        a2.write_bytes(y)
        if not x and not y:
            break
    assert b1.items() == b2.items() and a1.items() == a2.items()
