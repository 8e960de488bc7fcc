"""In-process exchanges between nodes: :func:`exchange` and :func:`sync`."""

from __future__ import annotations

from ._errors import SyncError
from ._scuttle import Gossip


def exchange(a: Gossip, b: Gossip) -> int:
    """Runs one push-pull exchange started by ``a`` with ``b`` and delivers every message.

    Each node addresses the other by its id. Returns how many update (or reset) messages
    were delivered in both directions.
    """
    a.gossip(peer=b.id)
    delivered = 0
    while True:
        to_b = a.read(peer=b.id)
        for msg in to_b:
            b.write(msg, peer=a.id)
        to_a = b.read(peer=a.id)
        for msg in to_a:
            a.write(msg, peer=b.id)
        if not to_b and not to_a:
            return delivered
        delivered += sum(1 for m in to_b + to_a if not m.get("digest"))


def sync(*nodes: Gossip, max_rounds: int = 1000) -> int:
    """Runs exchanges between every pair of ``nodes`` until a whole round moves no news.

    Returns the number of rounds that carried news. Raises :class:`SyncError` if news is
    still moving after ``max_rounds`` rounds (possible only with a resolver that is not a
    total order on updates). The same node given twice is used once.
    """
    unique: list[Gossip] = []
    for node in nodes:
        if not any(node is seen for seen in unique):
            unique.append(node)
    for rounds in range(max_rounds):
        moved = 0
        for i, a in enumerate(unique):
            for b in unique[i + 1 :]:
                moved += exchange(a, b)
        if moved == 0:
            return rounds
    raise SyncError(f"news still moving after {max_rounds} rounds")
