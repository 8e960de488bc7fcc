"""Messages: the seed's dict shapes over one pipe, CBOR frames, and refusal of invalid input."""

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
        {"digest": True, "id": "a", "source_id": "a", "version": 1},
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
    assert not any(m.get("source_id") == "a" and m.get("version") == 0 for m in digests)
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


def test_frames() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("k", {"nested": [1, b"2"]})
    b.set("j", 2)
    syn = a.start_exchange()
    assert isinstance(syn, bytes)
    (length,) = struct.unpack(">I", syn[:4])
    assert length == len(syn) - 4
    syn_ack = b.handle_frame(syn, peer="a")  # b's news and digest
    assert syn_ack is not None
    ack = a.handle_frame(syn_ack, peer="b")  # a's news
    assert ack is not None
    assert b.handle_frame(ack, peer="a") is None  # the exchange is over
    assert b["k"] == {"nested": [1, b"2"]} and a["j"] == 2
    # an idle exchange: nothing but digests (a hash, once both sides agree)
    reply = b.handle_frame(a.start_exchange())
    assert reply is not None and a.handle_frame(reply) is None


def test_frames_report_the_peer_label_to_callbacks() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    seen: list[Any] = []
    b.on_update(lambda key, entry, peer: seen.append((key, entry.value, peer)))
    a.set("k", 1)
    syn_ack = a.handle_frame(b.start_exchange())  # b opens; a answers with its news
    assert syn_ack is not None
    assert b.handle_frame(syn_ack, peer="node-a") is None  # b has no news for a
    a.set("k", 2)
    syn_ack = b.handle_frame(a.start_exchange())
    assert syn_ack is not None
    ack = a.handle_frame(syn_ack)
    assert ack is not None
    b.handle_frame(ack)  # no label: the default
    assert seen == [("k", 1, "node-a"), ("k", 2, scuttle.DEFAULT_PEER)]


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
    {"value": 1, "source_id": "x", "version": 1},
    {"key": "k", "value": 1, "version": 1},
    {"key": "k", "value": 1, "source_id": "x"},
    {"key": True, "value": 1, "source_id": "x", "version": 1},
    {"key": float("nan"), "value": 1, "source_id": "x", "version": 1},
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
    {"reset": True, "watermarks": [], "entries": [{"key": "k", "source_id": "x"}]},
    {"reset": True, "watermarks": [], "entries": [{"key": "k", "value": 1, "source_id": "x", "version": 0}]},
    {"reset": True, "watermarks": [], "entries": [5]},
    {"digest": True, "done": True, "hash": -1},
    {"digest": True, "done": True, "hash": "h"},
    {"key": "k", "value": 1, "source_id": "x", "version": 3, "prev": 1, "through": 2},
]


def _busy_node() -> scuttle.Gossip:
    """A node with state, history, queued messages and a half-written digest."""
    g = scuttle.Gossip("a")
    g.set("mine", 1, now=5)
    g.write({"key": "theirs", "value": 2, "source_id": "x", "version": 4})
    g.gossip()
    g.write({"digest": True, "source_id": "x", "version": 1})
    return g


def _observe(g: scuttle.Gossip) -> Any:
    return (
        {k: (e.value, e.version, e.source_id) for k, e in g.state.items()},
        g.version,
        g.watermarks,
        len(g.history),
        g.pending(),
        g.stats,
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
    g.read()
    with pytest.raises(ValueError):
        g.write({"digest": True, "source_id": "x", "version": -1})
    g.write({"digest": True, "done": True})
    answer = g.read()
    # the digest said x:1, so the news for "other" holds x's version 4 and our own write
    assert sorted((m["source_id"], m["version"]) for m in answer if "key" in m) == [("a", 1), ("x", 4)]


def _frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


# An Ack whose news is one run from "x" (prev 0) holding k = 1 at version 1, timestamp 0:
# [2, [0, ["x", 0, ["k", 1, 0, 1]]]] (docs/protocol.md).
VALID_ACK = bytes.fromhex("8202820083617800846" + "16b010001")


def _ack_with_value(value: bytes) -> bytes:
    return _frame(bytes.fromhex("8202820083617800846" + "16b0100") + value)


GARBAGE: list[bytes] = [
    b"",
    b"\x00",
    b"\x00\x00\x00",
    b"\x00\x00\x00\x05abc",
    b"\x7f\xff\xff\xff" + b"x" * 10,
    _frame(b"\xff\xfe\xfd"),
    _frame(b"not cbor at all"),
    _frame(b"\xa0"),  # an empty map
    _frame(b"\x01"),  # the integer 1
    _frame(VALID_ACK) + b"\x00",  # a byte after the frame
    _frame(VALID_ACK) + _frame(VALID_ACK),  # two frames: one call takes one
    _frame(VALID_ACK + b"\x00"),  # a byte after the message inside the frame
    _frame(bytes.fromhex("8202820083617800846" + "16b000001")),  # version 0
    _ack_with_value(b"\xd9\x03\xe8\x01"),  # a CBOR tag
    _ack_with_value(b"\xa1\x80\x01"),  # a map key that is a list
]


@pytest.mark.parametrize("data", GARBAGE, ids=lambda d: d[:24].hex())
def test_garbage_frames_raise_value_error_and_change_nothing(data: bytes) -> None:
    g = _busy_node()
    before = _observe(g)
    with pytest.raises(scuttle.InvalidMessageError):
        g.handle_frame(data)
    assert _observe(g) == before


def test_valid_hand_made_frame_is_accepted() -> None:
    g = scuttle.Gossip("a")
    assert g.handle_frame(_frame(VALID_ACK)) is None
    assert g["k"] == 1 and g.watermark("x") == 1
    e = g.entry("k")
    assert e is not None and (e.source_id, e.version, e.timestamp) == ("x", 1, 0)


def test_oversize_frames_are_refused() -> None:
    a = scuttle.Gossip("a", max_message_bytes=128)
    with pytest.raises(scuttle.TooLargeError):
        a.set("k", "x" * 200)
    assert "k" not in a and a.version == 0
    assert a.set("k", "small") is True
    # a peer with a larger limit sends a message above a's: a refuses the frame
    big = scuttle.Gossip("big")
    big.set("v", "x" * 200)
    syn_ack = big.handle_frame(a.start_exchange())
    assert syn_ack is not None and len(syn_ack) > 128
    with pytest.raises(scuttle.InvalidMessageError, match="exceeds"):
        a.handle_frame(syn_ack)
    assert "v" not in a and a.version == 1


def test_dict_pipe_and_frames_agree() -> None:
    a1, b1 = scuttle.Gossip("a"), scuttle.Gossip("b")
    for i in range(5):
        a1.set(f"k{i}", [i, str(i)])
        b1.set(f"j{i}", {"i": i})
    pipe(a1, b1)
    a2, b2 = scuttle.Gossip("a"), scuttle.Gossip("b")
    for i in range(5):
        a2.set(f"k{i}", [i, str(i)])
        b2.set(f"j{i}", {"i": i})
    syn_ack = b2.handle_frame(a2.start_exchange())
    assert syn_ack is not None
    ack = a2.handle_frame(syn_ack)
    assert ack is not None and b2.handle_frame(ack) is None
    assert b1.items() == b2.items() and a1.items() == a2.items()
    assert a1.watermarks == a2.watermarks == b1.watermarks == b2.watermarks
