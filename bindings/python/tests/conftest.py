"""Shared helpers for the scuttle tests."""

from __future__ import annotations

from typing import Any

import scuttle


def pipe(a: scuttle.Gossip, b: scuttle.Gossip) -> int:
    """One exchange over a single "pipe" per direction, with the default peer name (the
    seed's usage: ``a.gossip(); for m in a.read(): b.write(m)``). Returns messages moved."""
    a.gossip()
    moved = 0
    while True:
        to_b = a.read()
        for m in to_b:
            b.write(m)
        to_a = b.read()
        for m in to_a:
            a.write(m)
        if not to_b and not to_a:
            return moved
        moved += len(to_b) + len(to_a)


def snapshot(node: scuttle.Gossip) -> dict[str, Any]:
    """Live values, with the version and source of each."""
    return {k: (e.value, e.version, e.source_id) for k, e in node.state.items()}


def assert_converged(*nodes: scuttle.Gossip) -> None:
    first = snapshot(nodes[0])
    for node in nodes[1:]:
        assert snapshot(node) == first, f"{node.id} differs from {nodes[0].id}"
