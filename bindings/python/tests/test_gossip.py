"""The node API: writes, reads, the mapping protocol, configuration and callbacks."""

from __future__ import annotations

from typing import Any, Optional

import pytest

import scuttle
from conftest import assert_converged, pipe


def test_fresh_node() -> None:
    g = scuttle.Gossip("node-1")
    assert g.id == "node-1"
    assert g.version == 0
    assert len(g) == 0
    assert list(g) == [] and g.keys() == [] and g.items() == [] and g.values() == []
    assert g.state == {}
    assert g.get("missing") is None
    assert g.get("missing", 7) == 7
    assert g.entry("missing") is None
    assert g.mtu == 10 and g.max_history == 10 and g.max_message_bytes == 1 << 20
    assert g.watermarks == {}
    assert g.read() == [] and g.pending() == 0
    assert g.poll_timeout() is None
    assert repr(g) == "Gossip(id='node-1', version=0, keys=0)"


def test_set_get_and_versions() -> None:
    g = scuttle.Gossip("a")
    assert g.set("x", 1) is True
    assert g.version == 1
    assert g.set("y", "two") is True
    assert g.set("x", 3) is True
    assert g.version == 3
    assert g["x"] == 3 and g["y"] == "two"
    assert g.entry("x") == scuttle.Entry(3, 3, "a", timestamp=g.entry("x").timestamp)  # type: ignore[union-attr]
    e = g.entry("y")
    assert e is not None
    assert (e.value, e.version, e.source_id, e.deleted) == ("two", 2, "a", False)
    assert g.watermark("a") == 3 and g.watermarks == {"a": 3}


def test_now_is_the_write_timestamp_and_defaults_to_the_system_clock() -> None:
    import time

    g = scuttle.Gossip("a")
    g.set("fixed", 1, now=1_234)
    e = g.entry("fixed")
    assert e is not None and e.timestamp == 1_234
    before = int(time.time() * 1000)
    g.set("system", 2)
    after = int(time.time() * 1000)
    e = g.entry("system")
    assert e is not None and before <= e.timestamp <= after
    g.delete("fixed", now=99)
    tomb = g.entry("fixed", tombstones=True)
    assert tomb is not None and tomb.timestamp == 99


def test_mapping_protocol() -> None:
    g = scuttle.Gossip("a")
    for k, v in [("b", 2), ("a", 1), ("c", [3])]:
        g.set(k, v)
    assert len(g) == 3
    assert "a" in g and "z" not in g and 1 not in g
    assert g["c"] == [3]
    with pytest.raises(KeyError) as info:
        g["z"]
    assert info.value.args == ("z",)
    assert list(g) == ["a", "b", "c"]
    assert g.keys() == ["a", "b", "c"]
    assert g.values() == [1, 2, [3]]
    assert g.items() == [("a", 1), ("b", 2), ("c", [3])]
    assert dict(g.items()) == {"a": 1, "b": 2, "c": [3]}
    assert {k: e.value for k, e in g.state.items()} == {"a": 1, "b": 2, "c": [3]}
    assert all(isinstance(e, scuttle.Entry) for e in g.state.values())


def test_state_is_a_snapshot() -> None:
    g = scuttle.Gossip("a")
    g.set("k", 1)
    snap = g.state
    g.set("k", 2)
    g.set("j", 3)
    assert snap["k"].value == 1 and "j" not in snap
    snap.clear()
    assert len(g) == 2


def test_delete_writes_a_tombstone() -> None:
    g = scuttle.Gossip("a")
    g.set("k", 1)
    assert g.delete("k") is True
    assert "k" not in g and len(g) == 0 and g.get("k") is None
    with pytest.raises(KeyError):
        g["k"]
    assert g.entry("k") is None
    tomb = g.entry("k", tombstones=True)
    assert tomb is not None and tomb.deleted and tomb.value is None and tomb.version == 2
    assert g.state == {}
    # A delete of an unknown key is still a write (so it wins over writes on their way).
    assert g.delete("never") is True and g.version == 3


def test_delete_replicates() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("k", 1)
    pipe(a, b)
    assert b["k"] == 1
    a.delete("k")
    pipe(b, a)
    assert "k" not in b
    tomb = b.entry("k", tombstones=True)
    assert tomb is not None and tomb.deleted and tomb.source_id == "a"


def test_entry_class() -> None:
    e = scuttle.Entry("v", 3, "a")
    assert (e.value, e.version, e.source_id, e.timestamp, e.deleted) == ("v", 3, "a", 0, False)
    assert e == scuttle.Entry("v", 3, "a")
    assert e != scuttle.Entry("v", 4, "a")
    assert e != ("v", 3, "a")
    assert hash(e) == hash(scuttle.Entry("v", 3, "a"))
    assert repr(e) == "Entry(value='v', version=3, source_id='a')"
    assert "deleted=True" in repr(scuttle.Entry(None, 1, "a", deleted=True))
    with pytest.raises(AttributeError):
        e.value = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"mtu": 0}, scuttle.ConfigError),
        ({"resolve": "nope"}, scuttle.ConfigError),
        ({"sort": "nope"}, scuttle.ConfigError),
        ({"resolve": 3}, TypeError),
        ({"sort": 3}, TypeError),
        ({"tombstone_grace": -1.0}, scuttle.ConfigError),
        ({"tombstone_grace": float("nan")}, scuttle.ConfigError),
        ({"max_message_bytes": 10}, scuttle.ConfigError),
        ({"mtu": -1}, OverflowError),
        ({"clock": object()}, TypeError),  # removed: pass `now=` instead
        ({"max_frame_size": 1024}, TypeError),  # renamed max_message_bytes
    ],
)
def test_bad_configuration(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        scuttle.Gossip("a", **kwargs)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(scuttle.ConfigError, ValueError)
    assert issubclass(scuttle.ConfigError, scuttle.ScuttleError)
    assert issubclass(scuttle.InvalidMessageError, ValueError)
    assert issubclass(scuttle.TooLargeError, ValueError)
    assert issubclass(scuttle.TooLargeError, scuttle.ScuttleError)
    assert issubclass(scuttle.SyncError, RuntimeError)


@pytest.mark.parametrize("name", ["lww", "lww_clock", "lww-clock", "strict"])
def test_resolver_names(name: str) -> None:
    g = scuttle.Gossip("a", resolve=name)  # type: ignore[arg-type]
    assert g.set("k", 1) is True


def test_unknown_policy_names_list_the_known_ones() -> None:
    with pytest.raises(scuttle.ConfigError, match="lww-clock"):
        scuttle.Gossip("a", resolve="nope")  # type: ignore[arg-type]
    with pytest.raises(scuttle.ConfigError, match="depth"):
        scuttle.Gossip("a", sort="nope")  # type: ignore[arg-type]


def test_on_update_reports_local_and_remote_writes() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    seen_a: list[tuple[str, Any, Optional[str]]] = []
    seen_b: list[tuple[str, Any, Optional[str]]] = []

    @a.on_update
    def record_a(key: str, entry: scuttle.Entry, peer: Optional[str]) -> None:
        seen_a.append((key, entry.value, peer))

    b.on_update(lambda key, entry, peer: seen_b.append((key, entry.value, peer)))
    assert callable(record_a)
    a.set("k", 1)
    a.delete("k")
    assert seen_a == [("k", 1, None), ("k", None, None)]
    scuttle.exchange(a, b)
    assert seen_b == [("k", 1, "a"), ("k", None, "a")]


def test_on_update_callback_may_use_the_node() -> None:
    g = scuttle.Gossip("a")
    seen: list[Any] = []
    g.on_update(lambda key, entry, peer: seen.append((g[key], g.version, len(g))))
    g.set("k", "v")
    assert seen == [("v", 1, 1)]


def test_callback_exception_propagates_and_update_stays_applied() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    calls: list[str] = []

    def boom(key: str, entry: scuttle.Entry, peer: Optional[str]) -> None:
        calls.append(key)
        raise RuntimeError("callback failed")

    a.on_update(boom)
    a.on_update(lambda key, entry, peer: calls.append("second"))
    with pytest.raises(RuntimeError, match="callback failed"):
        a.set("k", 1)
    assert a["k"] == 1 and a.version == 1
    assert calls == ["k", "second"]  # every callback still ran
    b.set("j", 2)
    b.gossip()
    a.write(b.read(1)[0])  # digest entry
    a.write(b.read(1)[0])  # digest done: a answers with its news and digest
    for m in a.read():
        b.write(m)  # b answers with its news
    news = [m for m in b.read() if "key" in m]
    assert [m["key"] for m in news] == ["j"]
    with pytest.raises(RuntimeError, match="callback failed"):
        a.write(news[0], peer="b")
    assert a["j"] == 2 and a.watermark("b") == 1


def test_on_compaction() -> None:
    g = scuttle.Gossip("a", max_history=2)
    seen: list[tuple[int, int]] = []
    g.on_compaction(lambda dropped, length: seen.append((dropped, length)))
    for i in range(4):
        g.set("k", i)
    # history keeps the latest update of "k" plus superseded ones up to max_history
    assert seen == [(1, 2), (1, 2)]
    assert len(g.history) == 2


@pytest.mark.parametrize("bad", [1, None, "x"])
def test_callbacks_must_be_callable(bad: Any) -> None:
    g = scuttle.Gossip("a")
    with pytest.raises(TypeError):
        g.on_update(bad)
    with pytest.raises(TypeError):
        g.on_compaction(bad)


def test_history_news() -> None:
    a, b = scuttle.Gossip("a", max_history=100), scuttle.Gossip("b")
    for i in range(3):
        a.set(f"k{i}", i)
    a.delete("k0")
    news = a.history.news("a", 1)
    assert [n["version"] for n in news] == [2, 3, 4]
    assert news[0] == {
        "key": "k1",
        "value": 1,
        "source_id": "a",
        "version": 2,
        "timestamp": news[0]["timestamp"],
    }
    assert news[-1]["deleted"] is True and "value" not in news[-1]
    assert a.history.news("a") == a.history.news("a", 0)
    assert a.history.news("nobody", 0) == []
    assert a.history.sources() == ["a"]
    assert len(a.history) == 4
    scuttle.exchange(a, b)
    assert [n["version"] for n in b.history.news("a", 0)] == [1, 2, 3, 4]


def test_sync_converges_and_reports_rounds() -> None:
    nodes = [scuttle.Gossip(f"n{i}") for i in range(4)]
    for i, n in enumerate(nodes):
        n.set(f"key-{i}", i)
    rounds = scuttle.sync(*nodes)
    assert rounds >= 1
    assert_converged(*nodes)
    assert nodes[0].keys() == [f"key-{i}" for i in range(4)]
    assert scuttle.sync(*nodes) == 0
    assert scuttle.sync() == 0
    assert scuttle.sync(nodes[0], nodes[0]) == 0


def test_sync_raises_when_news_never_settles() -> None:
    # mtu 1 and 30 writes cannot settle in one round.
    a, b = scuttle.Gossip("a", mtu=1, max_history=100), scuttle.Gossip("b")
    for i in range(30):
        a.set(f"k{i}", i)
    with pytest.raises(scuttle.SyncError):
        scuttle.sync(a, b, max_rounds=1)
    scuttle.sync(a, b)
    assert_converged(a, b)


def test_tombstones_are_collected_after_grace() -> None:
    g = scuttle.Gossip("a", tombstone_grace=10.0)
    g.set("k", 1, now=1_000)
    g.delete("k", now=1_000)
    assert g.poll_timeout() == 11_000
    assert g.collect_tombstones(now=10_999) == 0
    assert g.entry("k", tombstones=True) is not None
    assert g.handle_timeout(11_000) == 1
    assert g.entry("k", tombstones=True) is None
    assert g.poll_timeout() is None
    keep = scuttle.Gossip("b", tombstone_grace=None)
    keep.set("k", 1, now=0)
    keep.delete("k", now=0)
    assert keep.poll_timeout() is None
    assert keep.handle_timeout(10**12) == 0
    assert keep.entry("k", tombstones=True) is not None


def test_gossip_collects_due_tombstones_first() -> None:
    g = scuttle.Gossip("a", tombstone_grace=1.0)
    g.delete("k", now=0)
    g.gossip(now=999)
    assert g.entry("k", tombstones=True) is not None
    g.gossip(now=1_000)
    assert g.entry("k", tombstones=True) is None
    h = scuttle.Gossip("h", tombstone_grace=1.0)
    h.delete("k", now=0)
    h.start_exchange(now=1_000)
    assert h.entry("k", tombstones=True) is None


def test_timeouts_default_to_the_system_clock() -> None:
    g = scuttle.Gossip("a", tombstone_grace=0.0)
    g.delete("k")  # stamped with the system clock
    assert g.handle_timeout() == 1
    old = scuttle.Gossip("b", tombstone_grace=60.0)
    old.delete("k", now=1_000)  # in 1970
    old.gossip()
    assert old.entry("k", tombstones=True) is None


def test_late_joiner_behind_collected_tombstones_gets_a_reset() -> None:
    a = scuttle.Gossip("a", tombstone_grace=1.0)
    b = scuttle.Gossip("b", tombstone_grace=1.0)
    a.set("gone", 1, now=0)
    a.set("kept", 2, now=0)
    scuttle.exchange(a, b, now=0)
    a.delete("gone", now=0)
    assert a.handle_timeout(5_000) == 1
    # b is behind the collected tombstone: a answers its digest with a reset
    b.gossip(now=5_000)
    for m in b.read():
        a.write(m, peer="b")
    msgs = a.read()
    reset = next(m for m in msgs if m.get("reset"))
    assert reset["watermarks"] == [["a", 3]]
    assert reset["floors"] == [["a", 3]]
    for m in msgs:
        b.write(m, peer="a")
    assert "gone" not in b and b["kept"] == 2
    assert b.entry("gone", tombstones=True) is None
    assert a.stats["resets_sent"] == 1


def test_pending_and_reset_pipe() -> None:
    g = scuttle.Gossip("a")
    g.set("k", 1)
    g.gossip()
    assert g.pending() == 2  # digest entry a:1, then done
    assert len(g.read(1)) == 1
    assert g.pending() == 1
    # half a digest saying the peer holds a:1, then the pipe breaks
    g.write({"digest": True, "source_id": "a", "version": 1})
    g.reset_pipe()
    assert g.pending() == 0 and g.read() == []
    # the digest that follows starts afresh: the peer holds nothing, so it gets k
    g.write({"digest": True, "done": True})
    assert [m["key"] for m in g.read() if "key" in m] == ["k"]


def test_one_pipe_per_node() -> None:
    g = scuttle.Gossip("a")
    g.gossip()
    g.gossip()
    assert g.pending() == 2  # two digests (each only "done": nothing known yet)
    with pytest.raises(TypeError):
        g.read(peer="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        g.gossip(peer="x")  # type: ignore[call-arg]


def test_stats() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("k", 1)
    assert scuttle.exchange(a, b) == 1
    assert b.stats["updates_applied"] == 1
    assert a.stats["updates_sent"] == 1
    # only the node that answers a digest counts it
    assert a.stats["digests_answered"] == 0 and b.stats["digests_answered"] == 1
    assert b.stats["idle_exchanges"] == 0


def test_idle_exchanges_send_a_digest_hash() -> None:
    nodes = [scuttle.Gossip(f"node-{i}", digest_hashes=True) for i in range(5)]
    for n in nodes:
        n.set("k", n.id)
    scuttle.sync(*nodes)
    a, b = nodes[0], nodes[1]
    assert b.stats["idle_exchanges"] >= 1
    # five sources make a full digest of more than 40 bytes; the hash takes 9
    syn = a.start_exchange()
    assert len(syn) <= 16
    reply = b.handle_frame(syn)
    assert reply is not None and len(reply) <= 20
    assert a.handle_frame(reply) is None
    # over the pipe the hash is a field of the closing digest line
    a.gossip()
    assert [set(m) for m in a.read()] == [{"digest", "done", "hash"}]
    # a node that changed answers a hash with its full digest, and news flows again
    b.set("k", "changed")
    reply = b.handle_frame(a.start_exchange())
    assert reply is not None and len(reply) > 40
    scuttle.sync(*nodes)
    assert all(n["k"] == "changed" for n in nodes)


def test_digest_hashes_are_off_by_default_for_seed_peers() -> None:
    # The seed's code understands only full digests, and names a digest's source `id`.
    a = scuttle.Gossip("a")
    b = scuttle.Gossip("b")
    a.set("k", 1)
    scuttle.sync(a, b)
    a.gossip()
    assert a.read() == [
        {"digest": True, "id": "a", "source_id": "a", "version": 1},
        {"digest": True, "done": True},
    ]


def test_oversize_write_raises_and_later_writes_still_reach_a_peer() -> None:
    a = scuttle.Gossip("a", max_message_bytes=128)
    b = scuttle.Gossip("b", max_message_bytes=128)
    a.set("before", 1)
    with pytest.raises(scuttle.TooLargeError, match="max_message_bytes"):
        a.set("big", "x" * 200)
    assert "big" not in a and a.version == 1
    with pytest.raises(ValueError):
        a.set("big", b"x" * 200)
    assert a.set("after", "small") is True and a.version == 2
    scuttle.sync(a, b)
    assert b.items() == [("after", "small"), ("before", 1)]
    # the limit counts the whole message: many small writes are spread over exchanges
    for i in range(20):
        a.set(f"many{i}", "y" * 30)
    assert scuttle.sync(a, b) > 1
    assert len(b) == 22


def test_reference_cycles_through_callbacks_are_collected() -> None:
    import gc
    import weakref

    def make() -> "weakref.ref[scuttle.Gossip]":
        holder: list[scuttle.Gossip] = []
        g = scuttle.Gossip(
            "a", resolve=lambda cur, up: bool(holder), sort=lambda u: (len(holder), u.version)
        )
        holder.append(g)
        g.on_update(lambda key, entry, peer: g.get(key))
        g.on_compaction(lambda dropped, length: g.version)
        g.set("k", 1)
        _ = g.history
        return weakref.ref(g)

    ref = make()
    gc.collect()
    assert ref() is None


def test_resolver_touching_its_node_fails_cleanly() -> None:
    holder: list[scuttle.Gossip] = []

    def resolve(current: Optional[scuttle.Entry], update: scuttle.Update) -> bool:
        return holder[0].get(update.key) is None  # the node is busy inside set()

    g = scuttle.Gossip("a", resolve=resolve)
    holder.append(g)
    with pytest.raises(RuntimeError):
        g.set("k", 1)
    assert "k" not in g and g.version == 0
