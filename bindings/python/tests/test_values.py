"""Values: every supported type round-trips with its type; others raise TypeError."""

from __future__ import annotations

import math
from typing import Any

import pytest

import scuttle
from conftest import pipe

SAMPLES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**64 - 1,
    -(2**64),
    1.5,
    -0.0,
    float("inf"),
    "",
    "héllo ✓",
    b"",
    b"\x00\xff",
    [],
    [1, "two", [3.0, None], {"k": b"v"}],
    {},
    {"a": 1, "b": [True, None], "c": {"d": 2.5}},
    {1: "int key", 2.5: "float key", b"k": "bytes key", None: "none key", True: "bool"},
]


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_value_round_trips_locally_and_over_both_codecs(value: Any) -> None:
    a, b, c = scuttle.Gossip("a"), scuttle.Gossip("b"), scuttle.Gossip("c")
    assert a.set("k", value) is True
    for node in (a,):
        got = node["k"]
        assert got == value and type(got) is type(value)
    pipe(a, b)  # dicts
    got = b["k"]
    assert got == value and type(got) is type(value)
    # CBOR frames, a to c
    syn_ack = c.handle_frame(a.start_exchange())
    assert syn_ack is not None
    ack = a.handle_frame(syn_ack)
    assert ack is not None and c.handle_frame(ack) is None
    got = c["k"]
    assert got == value and type(got) is type(value)


def test_nan_round_trips() -> None:
    a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    a.set("k", float("nan"))
    scuttle.sync(a, b)
    assert math.isnan(b["k"])
    c = scuttle.Gossip("c")
    pipe(a, c)
    assert math.isnan(c["k"])


def test_none_is_a_value_not_a_delete() -> None:
    g = scuttle.Gossip("a")
    g.set("k", None)
    assert "k" in g
    assert g["k"] is None
    assert len(g) == 1
    entry = g.entry("k")
    assert entry is not None and entry.value is None and not entry.deleted
    assert g.get("k", "default") is None


class Custom:
    pass


@pytest.mark.parametrize(
    "value",
    [(1, 2), {1, 2}, bytearray(b"x"), Custom(), object(), 1j, [1, (2,)], {"k": {3}}],
    ids=repr,
)
def test_unsupported_values_raise_type_error_and_change_nothing(value: Any) -> None:
    g = scuttle.Gossip("a")
    with pytest.raises(TypeError):
        g.set("k", value)
    assert "k" not in g and g.version == 0 and len(g.history) == 0


def test_tuple_dict_key_raises_type_error() -> None:
    g = scuttle.Gossip("a")
    with pytest.raises(TypeError):
        g.set("k", {(1, 2): "x"})


@pytest.mark.parametrize("value", [2**64, -(2**64) - 1, 10**40])
def test_ints_outside_cbor_range_raise_overflow_error(value: int) -> None:
    g = scuttle.Gossip("a")
    with pytest.raises(OverflowError):
        g.set("k", value)
    assert g.version == 0


def test_too_deep_nesting_is_refused() -> None:
    g = scuttle.Gossip("a")
    deep: list[Any] = []
    for _ in range(500):
        deep = [deep]
    with pytest.raises(ValueError):
        g.set("k", deep)
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError):
        g.set("k", cyclic)
    assert g.version == 0


def test_returned_values_are_copies() -> None:
    g = scuttle.Gossip("a")
    original = {"list": [1, 2]}
    g.set("k", original)
    original["list"].append(3)
    got = g["k"]
    assert got == {"list": [1, 2]}
    got["list"].append(4)
    assert g["k"] == {"list": [1, 2]}


@pytest.mark.parametrize("key", [1, b"k", None, ("t",)])
def test_keys_must_be_str(key: Any) -> None:
    g = scuttle.Gossip("a")
    with pytest.raises(TypeError):
        g.set(key, 1)
    with pytest.raises(TypeError):
        g.get(key)
    with pytest.raises(TypeError):
        g.delete(key)
    assert key not in g
