"""Conflict resolution: lww, strict, lww_clock and Python callables."""

from __future__ import annotations

from typing import Any, Optional

import pytest

import scuttle
from conftest import assert_converged, pipe


def upd(key: str, value: Any, source: str, version: int, **extra: Any) -> dict[str, Any]:
    return {"key": key, "value": value, "source_id": source, "version": version, **extra}


def test_lww_orders_by_version_then_source() -> None:
    g = scuttle.Gossip("me")
    g.write(upd("k", "b5", "b", 5))
    g.write(upd("k", "z4", "z", 4))  # older: rejected, watermark still moves
    assert g["k"] == "b5" and g.watermark("z") == 4
    g.write(upd("k", "a5", "a", 5))  # same version, lower source
    assert g["k"] == "b5"
    g.write(upd("k", "c5", "c", 5))  # same version, higher source
    assert g["k"] == "c5"
    assert g.set("k", "mine") is True  # local writes take version 6
    assert g.entry("k") is not None and g.entry("k").version == 6  # type: ignore[union-attr]


def test_strict_values_only_grow_locally() -> None:
    g = scuttle.Gossip("a", resolve="strict")
    assert g.set("n", 5) is True
    assert g.set("n", 5) is False
    assert g.set("n", 4) is False
    assert g.version == 1 and g["n"] == 5
    assert g.set("n", 5.5) is True
    assert g.set("n", 6) is True
    assert g.set("n", 6.0) is False  # numerically equal
    assert g.delete("n") is False  # deletes rank below every value
    assert g.set("s", "apple") is True
    assert g.set("s", "apricot") is True
    assert g.set("s", "ant") is False
    assert g.set("b", b"\x01") is True
    assert g.set("b", b"\x00\xff") is False
    assert g.set("b", b"\x01\x00") is True


def test_strict_orders_across_types() -> None:
    g = scuttle.Gossip("a", resolve="strict")
    ladder: list[Any] = [None, False, True, -1, 2.5, 3, "a", "b", b"a", [], [0], {}, {"a": 1}]
    for v in ladder:
        assert g.set("k", v) is True, v
    assert g.set("k", {"a": 0}) is False
    assert g.set("k", "zzz") is False
    assert g.version == len(ladder)


def test_strict_remote_ties_are_broken_by_version_and_source() -> None:
    # Equal values from two sources: both replicas keep the same one.
    x = scuttle.Gossip("x", resolve="strict")
    y = scuttle.Gossip("y", resolve="strict")
    x.write(upd("k", 7, "b", 5))
    x.write(upd("k", 7, "c", 5))
    y.write(upd("k", 7, "c", 5))
    y.write(upd("k", 7, "b", 5))
    assert x.entry("k") == y.entry("k")
    e = x.entry("k")
    assert e is not None and e.source_id == "c"
    # a smaller value never wins, whatever its version
    x.write(upd("k", 6, "z", 100))
    assert x["k"] == 7 and x.version == 100


def test_strict_regression_three_nodes_depth_mtu_one() -> None:
    # The design's model-check trace: equal values from two sources must not leave a third
    # node walked back and forth by relays (depth sorter, mtu 1, 3 nodes).
    nodes = [scuttle.Gossip(n, resolve="strict", sort="depth", mtu=1) for n in "abc"]
    nodes[0].set("k", 1)
    nodes[1].set("k", 1)
    for _ in range(10):
        scuttle.exchange(nodes[0], nodes[2])
        scuttle.exchange(nodes[1], nodes[2])
        scuttle.exchange(nodes[0], nodes[1])
    scuttle.sync(*nodes)
    assert_converged(*nodes)


def test_lww_clock_uses_timestamps_first() -> None:
    g = scuttle.Gossip("me", resolve="lww_clock")
    g.set("k", "local", now=1_000)
    assert g.entry("k").timestamp == 1_000  # type: ignore[union-attr]
    g.write(upd("k", "newer-version-older-clock", "z", 50, timestamp=999))
    assert g["k"] == "local"
    g.write(upd("k", "later-clock", "a", 2, timestamp=1_001))
    assert g["k"] == "later-clock"
    assert g.set("k", "now", now=5_000) is True
    assert g.entry("k").timestamp == 5_000  # type: ignore[union-attr]
    # the clock went back: a local write would lose to the current entry
    assert g.set("k", "past", now=500) is False
    assert g["k"] == "now" and g.version == 51


def test_callable_resolver_sees_entries_and_updates() -> None:
    calls: list[tuple[Optional[tuple[Any, int, str, bool]], tuple[str, Any, str, int, bool]]] = []

    def resolve(current: Optional[scuttle.Entry], update: scuttle.Update) -> bool:
        calls.append(
            (
                None
                if current is None
                else (current.value, current.version, current.source_id, current.deleted),
                (update.key, update.value, update.source_id, update.version, update.deleted),
            )
        )
        # keep the longest string
        return current is None or current.deleted or len(update.value or "") > len(current.value)

    g = scuttle.Gossip("a", resolve=resolve)
    assert g.set("k", "abc") is True
    assert g.set("k", "xy") is False
    assert g.version == 1
    g.write(upd("k", "wxyz", "b", 3))
    assert g["k"] == "wxyz"
    assert calls == [
        (None, ("k", "abc", "a", 1, False)),
        (("abc", 1, "a", False), ("k", "xy", "a", 2, False)),
        (("abc", 1, "a", False), ("k", "wxyz", "b", 3, False)),
    ]


def test_callable_resolver_truthiness() -> None:
    g = scuttle.Gossip("a", resolve=lambda cur, up: 1 if up.value != "no" else [])
    assert g.set("k", "yes") is True
    assert g.set("k", "no") is False


class Boom(Exception):
    pass


def _raise_on(value: Any) -> Any:
    def resolve(current: Optional[scuttle.Entry], update: scuttle.Update) -> bool:
        if update.value == value:
            raise Boom(f"refusing {value!r}")
        return True

    return resolve


def test_resolver_exception_on_set_propagates_with_no_state_change() -> None:
    g = scuttle.Gossip("a", resolve=_raise_on("bad"))
    g.set("k", "good")
    before = (g.state, g.version, g.watermarks, len(g.history))
    with pytest.raises(Boom, match="refusing 'bad'"):
        g.set("k", "bad")
    assert (g.state, g.version, g.watermarks, len(g.history)) == before
    with pytest.raises(Boom):
        g.set("new", "bad")
    assert "new" not in g and g.version == 1
    # the node still works afterwards
    assert g.set("k", "fine") is True and g.version == 2


def test_resolver_exception_on_write_propagates_with_no_state_change() -> None:
    g = scuttle.Gossip("a", resolve=_raise_on("bad"))
    g.set("k", "good")
    g.gossip()  # something queued
    before = (g.state, g.version, g.watermarks, len(g.history), g.pending(), g.stats)
    with pytest.raises(Boom):
        g.write(upd("k", "bad", "b", 10, prev=0))
    # not even the clock or the watermark moved
    assert (g.state, g.version, g.watermarks, len(g.history), g.pending(), g.stats) == before
    assert g.version == 1 and g.watermark("b") == 0
    # the same update, once the resolver accepts, applies normally
    g.write(upd("k", "ok", "b", 10, prev=0))
    assert g["k"] == "ok" and g.version == 10


def test_resolver_exception_on_a_frame_refuses_the_whole_message() -> None:
    src = scuttle.Gossip("b")
    src.set("k", "bad")
    src.set("j", "fine")
    dst = scuttle.Gossip("a", resolve=_raise_on("bad"))
    dst.set("mine", 1)
    syn_ack = src.handle_frame(dst.start_exchange())
    assert syn_ack is not None
    before = (dst.state, dst.version, dst.watermarks, dst.stats, len(dst.history))
    with pytest.raises(Boom):
        dst.handle_frame(syn_ack)
    # the whole message was refused: not even "j", judged before "k", was applied
    assert (dst.state, dst.version, dst.watermarks, dst.stats, len(dst.history)) == before
    assert "j" not in dst and dst.watermark("b") == 0


def test_resolver_exception_in_exchange_propagates_and_changes_nothing() -> None:
    src = scuttle.Gossip("b")
    src.set("k", "bad")
    dst = scuttle.Gossip("a", resolve=_raise_on("bad"))
    with pytest.raises(Boom):
        scuttle.sync(dst, src)
    assert "k" not in dst and dst.version == 0 and dst.watermarks == {}


def test_resolver_sees_each_update_of_a_message_meet_the_one_before() -> None:
    seen: list[tuple[Optional[int], int]] = []

    def resolve(current: Optional[scuttle.Entry], update: scuttle.Update) -> bool:
        seen.append((None if current is None else current.version, update.version))
        return True

    src = scuttle.Gossip("b")
    for i in range(3):
        src.set("k", i)
    dst = scuttle.Gossip("a", resolve=resolve)
    scuttle.exchange(dst, src)
    assert seen == [(None, 1), (1, 2), (2, 3)]
    assert dst["k"] == 2


def test_resolver_not_called_for_duplicates_and_gaps() -> None:
    calls: list[int] = []

    def resolve(current: Optional[scuttle.Entry], update: scuttle.Update) -> bool:
        calls.append(update.version)
        return True

    g = scuttle.Gossip("a", resolve=resolve)
    g.write(upd("k", 1, "b", 2, prev=0))
    g.write(upd("k", 1, "b", 2, prev=0))  # duplicate
    g.write(upd("k", 1, "b", 9, prev=5))  # gap: skipped, and it moves nothing, the clock included
    assert calls == [2]
    assert g.version == 2 and g.watermark("b") == 2


def test_resolver_exception_inside_a_reset_changes_nothing() -> None:
    g = scuttle.Gossip("a", resolve=_raise_on("bad"))
    g.set("mine", 1)
    reset = {
        "reset": True,
        "watermarks": [["b", 3]],
        "floors": [["b", 1]],
        "entries": [
            {"key": "x", "value": "fine", "source_id": "b", "version": 2},
            {"key": "y", "value": "bad", "source_id": "b", "version": 3},
        ],
    }
    before = (g.state, g.version, g.watermarks)
    with pytest.raises(Boom):
        g.write(reset)
    assert (g.state, g.version, g.watermarks) == before
    g2 = scuttle.Gossip("a", resolve=lambda cur, up: True)
    g2.write(reset)
    assert g2.keys() == ["x", "y"] and g2.watermark("b") == 3


def test_callable_resolver_converges_when_total() -> None:
    def bigger_then_newer(current: Optional[scuttle.Entry], update: scuttle.Update) -> bool:
        if current is None:
            return True
        return (update.value, update.version, update.source_id) > (
            current.value,
            current.version,
            current.source_id,
        )

    nodes = [scuttle.Gossip(n, resolve=bigger_then_newer) for n in "abc"]
    for i, n in enumerate(nodes):
        n.set("k", 10 - i)
        n.set(f"own-{i}", i)
    scuttle.sync(*nodes)
    assert_converged(*nodes)
    assert nodes[2]["k"] == 10


def test_pipe_with_strict() -> None:
    a = scuttle.Gossip("a", resolve="strict")
    b = scuttle.Gossip("b", resolve="strict")
    a.set("hi", 3)
    b.set("hi", 7)
    pipe(a, b)
    assert a["hi"] == b["hi"] == 7
