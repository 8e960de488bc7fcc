"""scuttle: scuttlebutt anti-entropy gossip, a replicated key/value map.

A :class:`Gossip` node holds a map of ``str`` keys to values (None, bool, int, float, str,
bytes, list, dict) that replicas reconcile by exchanging digests and news (van Renesse et
al., 2008). The protocol runs in the Rust core (``scuttle._scuttle``); this package is its
Python face. Messages are moved by the caller (``gossip``/``read``/``write`` as the seed's
dicts over one pipe, ``start_exchange``/``handle_frame`` as CBOR frames), or in process by
:func:`sync`.

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

from ._errors import ConfigError as ConfigError
from ._errors import InvalidMessageError as InvalidMessageError
from ._errors import ScuttleError as ScuttleError
from ._errors import SyncError as SyncError
from ._errors import TooLargeError as TooLargeError
from ._scuttle import DEFAULT_PEER as DEFAULT_PEER
from ._scuttle import PROTOCOL_VERSION as PROTOCOL_VERSION
from ._scuttle import Entry as Entry
from ._scuttle import Gossip as Gossip
from ._scuttle import History as History
from ._scuttle import Update as Update
from ._scuttle import __version__ as __version__
from ._scuttle import exchange as exchange
from ._scuttle import sync as sync

__all__ = [
    "DEFAULT_PEER",
    "PROTOCOL_VERSION",
    "ConfigError",
    "Entry",
    "Gossip",
    "History",
    "InvalidMessageError",
    "ScuttleError",
    "SyncError",
    "TooLargeError",
    "Update",
    "exchange",
    "sync",
]
