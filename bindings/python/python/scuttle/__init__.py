"""scuttle: scuttlebutt anti-entropy gossip, a replicated key/value map.

:class:`Node` is a networked node (libp2p or TCP, the node ``scuttle node`` runs) for
asyncio, driven by a Rust runtime inside the extension::

    async with await scuttle.Node.start(listen="0.0.0.0:7400", bootstrap=["10.0.0.1:7400"],
                                        path="/var/lib/app/scuttle") as node:
        await node.set("greeting", "hello")
        async for event in node.events():
            ...

:class:`BlockingNode` is the same node for scripts, without asyncio.

:class:`Gossip` is the frame-level API: a node's map of ``str`` keys to values (None, bool,
int, float, str, bytes, list, dict) that replicas reconcile by exchanging digests and news
(van Renesse et al., 2008). The protocol runs in the Rust core (``scuttle._scuttle``).
Messages are moved by the caller (``gossip``/``read``/``write`` as the seed's dicts over one
pipe, ``start_exchange``/``handle_frame`` as CBOR frames), or in process by :func:`sync`.

    >>> import scuttle
    >>> a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
    >>> a.set("greeting", "hello")
    True
    >>> a.gossip()
    >>> while True:
    ...     moved = a.read()
    ...     for m in moved: b.write(m)
    ...     back = b.read()
    ...     for m in back: a.write(m)
    ...     if not moved and not back: break
    >>> b["greeting"]
    'hello'
    >>> reply = b.handle_frame(a.start_exchange())  # the same over frames
    >>> a.handle_frame(reply) is None  # a has no news left for b
    True
"""

from __future__ import annotations

import os
from typing import Any, Union

from ._errors import CatchingUpError as CatchingUpError
from ._errors import ClosedError as ClosedError
from ._errors import ConfigError as ConfigError
from ._errors import CorruptStoreError as CorruptStoreError
from ._errors import InvalidMessageError as InvalidMessageError
from ._errors import NetworkError as NetworkError
from ._errors import RefusedError as RefusedError
from ._errors import ScuttleError as ScuttleError
from ._errors import StoreError as StoreError
from ._errors import StoreLockedError as StoreLockedError
from ._errors import StoreVersionError as StoreVersionError
from ._errors import SyncError as SyncError
from ._errors import TooLargeError as TooLargeError
from ._errors import WrongNodeError as WrongNodeError
from ._scuttle import DEFAULT_PEER as DEFAULT_PEER
from ._scuttle import PROTOCOL_VERSION as PROTOCOL_VERSION
from ._scuttle import Entry as Entry
from ._scuttle import Gossip as Gossip
from ._scuttle import History as History
from ._scuttle import Update as Update
from ._scuttle import Member as Member
from ._scuttle import NodeEvent as NodeEvent
from ._scuttle import __version__ as __version__
from ._scuttle import exchange as exchange
from ._scuttle import sync as sync
from ._node import BlockingNode as BlockingNode
from ._node import Node as Node
from ._node import NodeEvents as NodeEvents


def open(path: Union[str, "os.PathLike[str]"], id: str, **options: Any) -> Gossip:  # noqa: A001
    """The durable node ``id`` kept in the file at ``path`` (created when missing):
    ``Gossip(id, path=path, **options)``. Use it in a ``with`` block, or call ``close()``.

    Raises :class:`CorruptStoreError`, :class:`StoreVersionError`, :class:`WrongNodeError`,
    :class:`StoreLockedError` or :class:`StoreError` for a file it cannot use (the file is
    left as it was). Not in ``__all__``: a star import must not shadow the built-in ``open``.
    """
    return Gossip(id, path=path, **options)


__all__ = [
    "DEFAULT_PEER",
    "PROTOCOL_VERSION",
    "BlockingNode",
    "CatchingUpError",
    "ClosedError",
    "ConfigError",
    "CorruptStoreError",
    "Entry",
    "Gossip",
    "History",
    "InvalidMessageError",
    "Member",
    "NetworkError",
    "Node",
    "NodeEvent",
    "NodeEvents",
    "RefusedError",
    "ScuttleError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
    "SyncError",
    "TooLargeError",
    "Update",
    "WrongNodeError",
    "exchange",
    "sync",
]
