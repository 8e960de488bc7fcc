"""The seed's scenarios: line and ring topologies, mtu 1 ordering, sort policies, and a
property test that random writes and random exchange orders converge."""

from __future__ import annotations

from typing import Any, Optional

from hypothesis import given, settings
from hypothesis import strategies as st

import scuttle
from conftest import assert_converged, pipe


def test_four_nodes_in_a_line_share_writes() -> None:
    # A–B, B–C, A–D: writes on A and B reach C and D through the relays.
    a, b, c, d = (scuttle.Gossip(n) for n in "abcd")
    a.set("from-a", 1)
    b.set("from-b", 2)
    for _ in range(3):
        scuttle.exchange(a, b)
        scuttle.exchange(b, c)
        scuttle.exchange(a, d)
    for node in (a, b, c, d):
        assert node["from-a"] == 1, node.id
        assert node["from-b"] == 2, node.id
    assert_converged(a, b, c, d)


def test_four_nodes_in_a_line_over_single_pipes() -> None:
    # The same with the seed's single-pipe usage (default peer names).
    a, b, c, d = (scuttle.Gossip(n) for n in "abcd")
    a.set("from-a", "x")
    b.set("from-b", "y")
    for _ in range(3):
        pipe(a, b)
        pipe(b, c)
        pipe(a, d)
    assert_converged(a, b, c, d)
    assert d.items() == [("from-a", "x"), ("from-b", "y")]


def test_ring_of_four_each_bumping_its_own_key_converges() -> None:
    nodes = [scuttle.Gossip(f"n{i}") for i in range(4)]
    for step in range(5):
        for i, node in enumerate(nodes):
            node.set(f"key-{i}", step)
        for i in range(4):
            scuttle.exchange(nodes[i], nodes[(i + 1) % 4])
    for _ in range(4):
        for i in range(4):
            scuttle.exchange(nodes[i], nodes[(i + 1) % 4])
    assert_converged(*nodes)
    for i in range(4):
        assert nodes[0][f"key-{i}"] == 4


def test_mtu_one_delivers_updates_in_order() -> None:
    a = scuttle.Gossip("a", mtu=1, max_history=4)
    b = scuttle.Gossip("b", mtu=1, max_history=4)
    for word in ["Doctor", "Who", "Just", "Me"]:
        a.set("words", word)
    seen: list[Any] = []
    b.on_update(lambda key, entry, peer: seen.append(entry.value))
    for _ in range(6):
        scuttle.exchange(b, a)
    assert seen == ["Doctor", "Who", "Just", "Me"]
    assert b["words"] == "Me"


def test_mtu_cuts_each_exchange() -> None:
    a = scuttle.Gossip("a", mtu=3, max_history=100)
    b = scuttle.Gossip("b")
    for i in range(10):
        a.set(f"k{i}", i)
    assert scuttle.exchange(b, a) == 3
    assert len(b) == 3
    assert b.keys() == ["k0", "k1", "k2"]


def _news_order(sort: Any) -> list[tuple[str, int]]:
    """Which updates a node with news from three sources sends first to an empty peer."""
    relay = scuttle.Gossip("relay", mtu=4, max_history=100, sort=sort)
    for source, count in [("x", 1), ("y", 3), ("z", 2)]:
        for v in range(1, count + 1):
            relay.write({"key": f"{source}{v}", "value": v, "source_id": source, "version": v})
    # an empty peer's answer to a digest: relay's reply holds its news in runs per source
    relay.write({"digest": True, "done": True, "reply": True}, peer="empty")
    return [(m["source_id"], m["version"]) for m in relay.read() if "key" in m]


def test_breadth_sort() -> None:
    # slots x1, y1, z1, y2; each source's updates travel together, in the order of their
    # first slot
    assert _news_order("breadth") == [("x", 1), ("y", 1), ("y", 2), ("z", 1)]


def test_depth_sort() -> None:
    assert _news_order("depth") == [("y", 1), ("y", 2), ("y", 3), ("z", 1)]


def test_key_callable_sort() -> None:
    # z first, then by version; within a source the core keeps ascending versions.
    seen: list[int] = []

    def key(u: scuttle.Update) -> tuple[int, int, str]:
        seen.append(u.outstanding)
        return (0 if u.source_id == "z" else 1, u.version, u.source_id)

    assert _news_order(key) == [("z", 1), ("z", 2), ("x", 1), ("y", 1)]
    assert set(seen) == {1, 2, 3}


def test_key_sort_never_makes_a_source_skip_a_version() -> None:
    # Newest first: the key picks z's newest update for a slot, but z's slots must still carry
    # its oldest updates, each with the right prev, or the receiver would skip z's version 1.
    z = scuttle.Gossip("z", mtu=2, sort=lambda u: (-u.version, u.source_id))
    z.set("x", 1)
    z.set("y", 2)
    z.write({"key": "w", "value": "b", "source_id": "b", "version": 1}, peer="b")
    z.write({"digest": True, "done": True, "reply": True}, peer="c")
    sent = [(m["source_id"], m["version"], m["prev"]) for m in z.read() if "key" in m]
    assert sent == [("z", 1, 0), ("b", 1, 0)]
    c = scuttle.Gossip("c")
    scuttle.sync(z, c)
    assert c.items() == z.items() == [("w", "b"), ("x", 1), ("y", 2)]


class KeyBoom(Exception):
    pass


def test_key_callable_exception_propagates() -> None:
    def key(u: scuttle.Update) -> int:
        raise KeyBoom

    relay = scuttle.Gossip("relay", sort=key)
    relay.set("k", 1)
    before = (relay.watermarks, relay.stats, relay.version)
    try:
        relay.write({"digest": True, "done": True, "reply": True})
    except KeyBoom:
        pass
    else:  # pragma: no cover
        raise AssertionError("KeyBoom not raised")
    # the message was refused: no answer, nothing changed
    assert relay.read() == [] and (relay.watermarks, relay.stats, relay.version) == before
    other = scuttle.Gossip("other")
    try:
        other.handle_frame(relay.handle_frame(other.start_exchange()) or b"")
    except KeyBoom:
        pass
    else:  # pragma: no cover
        raise AssertionError("KeyBoom not raised")
    assert "k" not in other


def test_key_callable_with_incomparable_keys_propagates_type_error() -> None:
    relay = scuttle.Gossip("relay", sort=lambda u: 1 if u.version == 1 else "s")
    relay.set("a", 1)
    relay.set("b", 2)
    try:
        relay.write({"digest": True, "done": True, "reply": True})
    except TypeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("TypeError not raised")


# ---------------------------------------------------------------- property test

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.integers(-1000, 1000), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(-1000, 1000), max_size=3),
)
writes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # node
        st.sampled_from(["a", "b", "c", "d", "e"]),  # key
        st.one_of(st.just(None), st.tuples(values)),  # None = delete, (v,) = set v
    ),
    max_size=25,
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("write"), writes),
        st.tuples(
            st.just("exchange"),
            st.lists(
                st.tuples(st.integers(0, 3), st.integers(0, 3)).filter(lambda p: p[0] != p[1]),
                max_size=6,
            ),
        ),
    ),
    max_size=6,
)


def py_lww(current: Optional[scuttle.Entry], update: scuttle.Update) -> bool:
    """LastWriterWins written in Python: a total order on updates."""
    return current is None or (update.version, update.source_id) > (
        current.version,
        current.source_id,
    )


def newest_first(u: scuttle.Update) -> tuple[int, str]:
    return (-u.version, u.source_id)


@settings(max_examples=80, deadline=None)
@given(
    steps=steps,
    mtu=st.integers(min_value=1, max_value=4),
    max_history=st.integers(min_value=0, max_value=6),
    resolve=st.sampled_from(["lww", "strict", "lww_clock", py_lww]),
    sort=st.sampled_from(["breadth", "depth", newest_first]),
    codec=st.sampled_from(["dict", "frames"]),
)
def test_random_writes_and_exchange_orders_converge(
    steps: list[tuple[str, Any]],
    mtu: int,
    max_history: int,
    resolve: Any,
    sort: Any,
    codec: str,
) -> None:
    nodes = [
        scuttle.Gossip(f"n{i}", mtu=mtu, max_history=max_history, resolve=resolve, sort=sort)
        for i in range(4)
    ]

    def move(a: scuttle.Gossip, b: scuttle.Gossip) -> None:
        if codec == "frames":
            syn_ack = b.handle_frame(a.start_exchange(), peer=a.id)
            assert syn_ack is not None
            ack = a.handle_frame(syn_ack, peer=b.id)
            if ack is not None:
                assert b.handle_frame(ack, peer=a.id) is None
            return
        a.gossip()
        while True:
            to_b = a.read()
            for m in to_b:
                b.write(m, peer=a.id)
            to_a = b.read()
            for m in to_a:
                a.write(m, peer=b.id)
            if not to_b and not to_a:
                return

    for kind, arg in steps:
        if kind == "write":
            for node, key, op in arg:
                if op is None:
                    nodes[node].delete(key)
                else:
                    nodes[node].set(key, op[0])
        else:
            for i, j in arg:
                move(nodes[i], nodes[j])
    # then exchanges in a fixed all-pairs order until nobody has news left
    for _ in range(200):
        before = [n.watermarks for n in nodes]
        for i in range(4):
            for j in range(4):
                if i != j:
                    move(nodes[i], nodes[j])
        if [n.watermarks for n in nodes] == before:
            break
    assert_converged(*nodes)
    tombstones: list[Optional[Any]] = [
        {k: n.entry(k, tombstones=True) for k in "abcde"} for n in nodes
    ]
    assert all(t == tombstones[0] for t in tombstones)
