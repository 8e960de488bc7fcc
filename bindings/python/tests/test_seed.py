"""The seed's own tape tests (simple-scuttle 3.0.2, ``test/*.test.js``) ported to the Python
API, and the seed's real dicts read as they are.

Ported, with the seed's names:

* gossip.test.js "Integration test via readable calls" -> ``test_readable``
* gossip.test.js "updates from one propagate across the network (large/medium/tiny)"
  -> ``test_can_pipe``
* gossip.test.js "can handle more data than mtu" -> ``test_verify_mtu``
* gossip.test.js "can handle updates from all across network (large/medium/small/tiny)"
  -> ``test_everyone_their_own``
* history.test.js "newses correctly" -> ``test_history_news``
* history.test.js "`update` events fire as expected" -> ``test_update_events``

Not ported, and why:

* history.test.js "writes correctly" checks the seed's history array: every update sorted
  into one array and the oldest cut past ``max_history``, whatever its key. scuttle's history
  is per source and only ever drops *superseded* updates (never a key's latest, which the
  seed loses), so that array and its cut do not exist.
* The seed's pipes are ``A.pipe(B).pipe(A)`` streams; here a "pipe" moves every dict a node
  reads out to each of its neighbours (``broadcast``), which is what a piped stream does.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import scuttle
from conftest import assert_converged

Links = dict[str, list[str]]


def broadcast(nodes: dict[str, scuttle.Gossip], links: Links) -> None:
    """Moves every dict each node reads out to all its neighbours, as the seed's piped
    streams do, until no node has anything left to say."""
    for _ in range(100):
        outs = {name: node.read() for name, node in nodes.items()}
        if not any(outs.values()):
            return
        for name, out in outs.items():
            for neighbour in links[name]:
                for msg in out:
                    nodes[neighbour].write(msg, peer=name)
    raise AssertionError("the pipes never went quiet")


def linked(*edges: tuple[str, str]) -> Links:
    links: Links = {}
    for a, b in edges:
        links.setdefault(a, []).append(b)
        links.setdefault(b, []).append(a)
    return links


def test_readable() -> None:
    a = scuttle.Gossip("#A")
    local = [("greeting", "hello"), ("name", "Doctor"), ("name", "Who"), ("name", "Just")]
    for key, value in local:
        a.set(key, value)
    peer = [
        {"key": "name", "value": "Return", "source_id": "peer", "version": 24},
        {"key": "name", "value": "Barry", "source_id": "peer", "version": 25},
    ]
    for msg in peer:
        a.write(msg)
    # A digest that names nobody asks for everything: each write comes out, in order.
    a.write({"source_id": "#A", "digest": True, "done": True})
    out = [m for m in a.read() if "key" in m]
    got = [(m["key"], m["value"], m["source_id"], m["version"]) for m in out]
    expected: list[tuple[Any, ...]] = [(k, v, "#A", i + 1) for i, (k, v) in enumerate(local)]
    expected += [(m["key"], m["value"], m["source_id"], m["version"]) for m in peer]
    assert got == expected
    assert a["name"] == "Barry"


@pytest.mark.parametrize(("mtu", "buffer"), [(100, 100), (10, 10), (3, 3)])
def test_can_pipe(mtu: int, buffer: int) -> None:
    nodes = {n: scuttle.Gossip(f"#{n}", mtu=mtu, max_history=buffer) for n in "ABCD"}
    links = linked(("A", "B"), ("B", "C"), ("A", "D"))
    values = "abcdefghij"
    for count in range(10):
        writer = nodes["A"] if count % 2 else nodes["B"]
        writer.set(str(count + 1), values[count])
        for node in nodes.values():
            node.gossip()
        broadcast(nodes, links)
    c, d = nodes["C"], nodes["D"]
    assert [c[k] for k in "1234"] == list("abcd")
    assert [d[k] for k in "567"] == list("efg")
    assert_converged(*nodes.values())


def test_verify_mtu() -> None:
    a = scuttle.Gossip("#A", mtu=1, max_history=4)
    for value in ["Doctor", "Who", "Just", "Me"]:
        a.set("name", value)
    assert a["name"] == "Me"
    # With mtu 1 each digest gets one update, the oldest the asker lacks: all four come out
    # in order (the seed pushes them all past its buffer at once).
    result = []
    for version in range(4):
        a.write({"digest": True, "id": "#A", "version": version})
        a.write({"digest": True, "done": True})
        result += [m["value"] for m in a.read() if "key" in m]
    assert result == ["Doctor", "Who", "Just", "Me"]


@pytest.mark.parametrize(("mtu", "buffer"), [(100, 10), (10, 10), (3, 10), (1, 30)])
def test_everyone_their_own(mtu: int, buffer: int) -> None:
    nodes = {n: scuttle.Gossip(f"#{n}", mtu=mtu, max_history=buffer) for n in "ABCD"}
    # The seed pipes A–B, B–C, C–D, D–B, B–A, and A–D: a ring with a chord.
    links = linked(("A", "B"), ("B", "C"), ("C", "D"), ("D", "B"), ("D", "A"))
    versions = dict.fromkeys(nodes, 0)
    for i in range(10):
        name = "BCDA"[i % 4]
        versions[name] += 1
        nodes[name].set(name, versions[name])
        for node in nodes.values():
            node.gossip()
        broadcast(nodes, links)
    for _ in range(4):
        for node in nodes.values():
            node.gossip()
        broadcast(nodes, links)
    assert_converged(*nodes.values())
    assert nodes["A"].items() == [("A", 2), ("B", 3), ("C", 3), ("D", 2)]


def test_history_news() -> None:
    g = scuttle.Gossip("g")
    for source, version, key in [("A", 1, "a1"), ("A", 2, "a2"), ("B", 3, "b3"), ("B", 4, "b4")]:
        g.write({"key": key, "value": 0, "source_id": source, "version": version})
    assert [m["version"] for m in g.history.news("A", 0)] == [1, 2]
    assert [m["version"] for m in g.history.news("B", 3)] == [4]
    assert g.history.news("nobody", 0) == []
    assert g.history.news("A", 10) == []


def test_update_events() -> None:
    g = scuttle.Gossip("g")
    seen: list[tuple[str, Any, str, int, Any]] = []
    g.on_update(lambda key, e, peer: seen.append((key, e.value, e.source_id, e.version, peer)))
    g.write({"key": "k", "value": 0, "source_id": "s", "version": 7}, peer="p")
    assert seen == [("k", 0, "s", 7, "p")]


# ------------------------------------------------------------ the seed's real dicts


def test_the_seeds_digest_names_sources_id_and_may_never_end() -> None:
    a = scuttle.Gossip("a")
    a.set("k", "v")
    # The seed's gossip() stopped before `done`; naming a source again starts the next
    # digest, and the first one is answered.
    a.write({"id": "a", "version": 0, "digest": True})
    a.write({"id": "b", "version": 3, "digest": True})
    assert a.read() == []
    a.write({"id": "a", "version": 0, "digest": True})
    assert [m["key"] for m in a.read() if "key" in m] == ["k"]
    # An idle pipe ends the second one.
    a.finish_digest()
    assert [m["key"] for m in a.read() if "key" in m] == ["k"]
    a.finish_digest()
    assert a.read() == []


def test_number_keys_and_value_less_deletes_read_as_the_seed_sends_them() -> None:
    g = scuttle.Gossip("g")
    g.write({"key": 1, "value": "a", "source_id": "#A", "version": 1})
    g.write({"key": 2.5, "value": "b", "source_id": "#A", "version": 2})
    assert g.items() == [("1", "a"), ("2.5", "b")]
    # A delete relayed by a seed node has lost `deleted`: no value means deleted.
    g.write({"key": 1, "source_id": "#A", "version": 3})
    assert "1" not in g
    assert g.entry("1", tombstones=True) is not None


def test_lww_clock_warns_once_that_seed_updates_carry_no_clock() -> None:
    g = scuttle.Gossip("g", resolve="lww_clock")
    with pytest.warns(UserWarning, match="no.*timestamp|timestamp 0"):
        g.write({"key": "k", "value": 1, "source_id": "#J", "version": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g.write({"key": "k", "value": 2, "source_id": "#J", "version": 2})
    # Under lww no warning at all.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scuttle.Gossip("h").write({"key": "k", "value": 1, "source_id": "#J", "version": 1})
