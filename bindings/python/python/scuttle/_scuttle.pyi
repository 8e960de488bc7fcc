"""Type stubs of the native module ``scuttle._scuttle`` (import from ``scuttle``)."""

import os
from types import TracebackType
from typing import Any, Callable, Iterator, Literal, Optional, TypeVar, Union, final

DEFAULT_PEER: str
"""The peer label ``on_update`` gets for messages written without ``peer=`` (``"peer"``)."""

PROTOCOL_VERSION: int
"""Version of the wire protocol."""

__version__: str
"""Version of the package (the distribution `scuttle-gossip`), e.g. ``"0.1.0"``."""

Value = Any
"""None, bool, int (-2**64 .. 2**64-1), float, str, bytes, list or dict of these."""

Message = dict[str, Any]
"""One message line in the seed's shapes (see ``docs/python.md``)."""

@final
class Entry:
    """What a node holds for a key: ``Entry(value, version, source_id)``."""

    @property
    def value(self) -> Value:
        """The value (None for a tombstone, or a stored None)."""
    @property
    def version(self) -> int:
        """The version of the winning update."""
    @property
    def source_id(self) -> str:
        """The node that wrote it."""
    @property
    def timestamp(self) -> int:
        """The writer's clock, milliseconds since the Unix epoch (0 when unknown)."""
    @property
    def deleted(self) -> bool:
        """Whether this entry is a tombstone."""
    def __init__(
        self,
        value: Value,
        version: int,
        source_id: str,
        *,
        timestamp: int = 0,
        deleted: bool = False,
    ) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Update:
    """One write, as a resolver or a sort key sees it."""

    @property
    def key(self) -> str:
        """The key written."""
    @property
    def value(self) -> Value:
        """The value (None for a delete, or a stored None)."""
    @property
    def source_id(self) -> str:
        """The writer."""
    @property
    def version(self) -> int:
        """The writer's version for this write."""
    @property
    def timestamp(self) -> int:
        """The writer's clock, milliseconds since the Unix epoch (0 when unknown)."""
    @property
    def deleted(self) -> bool:
        """Whether this update deletes its key."""
    @property
    def outstanding(self) -> int:
        """In a sort key: how many updates of this source the peer lacks; else 0."""

@final
class History:
    """The updates a node can still replay as news (``Gossip.history``)."""

    def news(self, source_id: str, version: int = 0) -> list[Message]:
        """The updates held from ``source_id`` above ``version``, ascending, as dicts."""
    def sources(self) -> list[str]:
        """Every source with at least one held update, sorted."""
    def __len__(self) -> int: ...

Resolve = Union[
    Literal["lww", "strict", "lww_clock", "lww-clock"],
    Callable[[Optional[Entry], Update], object],
]
"""A resolver name, or ``resolve(current, update)`` whose truthiness accepts the update."""

_OnUpdate = TypeVar("_OnUpdate", bound=Callable[[str, Entry, Optional[str]], object])
_OnCompaction = TypeVar("_OnCompaction", bound=Callable[[int, int], object])
Sort = Union[Literal["breadth", "depth"], Callable[[Update], Any]]

@final
class Gossip:
    """A node of the replicated map.

    ``resolve`` picks the update that wins a key: ``"lww"`` (higher ``(version,
    source_id)``), ``"strict"`` (higher ``(value, version, source_id)``; a local write needs
    a strictly greater value), ``"lww_clock"`` (higher ``(timestamp, version,
    source_id)``) or a callable ``resolve(current, update) -> bool``. ``sort`` orders the
    news of a message cut by ``mtu`` or ``max_message_bytes``: ``"breadth"``, ``"depth"`` or
    a key callable over :class:`Update` (smaller first). ``tombstone_grace`` is in seconds
    (None: forever). Every ``now`` is in milliseconds since the Unix epoch and defaults to
    the system clock.

    The dicts of ``gossip()``/``read()``/``write()`` are the seed's wire: with the default
    options a node exchanges them with the seed's JavaScript code (simple-scuttle 3.0.2)
    directly. It reads what that code really sends (digest entries named ``id``, number keys
    as their JavaScript string, an update without ``value`` as a delete, a digest without
    ``done``: see :meth:`finish_digest`) and writes ``id`` beside ``source_id``.
    ``digest_hashes=True`` saves bytes between scuttle peers only (the seed does not
    understand a digest hash). Under ``"lww_clock"`` the first update without a timestamp (a
    seed peer's) raises a ``UserWarning``: it reads as timestamp 0. See ``docs/interop.md``.

    ``versions`` numbers local writes: ``"counter"`` (the seed's Lamport counter) or
    ``"hybrid"`` (a hybrid logical clock: a restarted node never reissues a version; use it
    for networked nodes). ``max_clock_skew`` (seconds) bounds how far ahead of ``now`` a
    peer's hybrid versions may be: news beyond it waits. ``catch_up`` (seconds, or None): a
    node that starts empty refuses local writes with :class:`CatchingUpError` until it has
    heard a peer or the period has passed. ``path``: keep the node in that file (created
    when missing), so it survives a restart; each write and applied message is durable when
    its call returns. Close it with :meth:`close` or a ``with`` block.
    """

    def __init__(
        self,
        id: str,
        *,
        mtu: int = 10,
        max_history: int = 10,
        resolve: Optional[Resolve] = "lww",
        sort: Optional[Sort] = "breadth",
        tombstone_grace: Optional[float] = 3600.0,
        max_message_bytes: int = 1048576,
        digest_hashes: bool = False,
        versions: Literal["counter", "hybrid"] = "counter",
        max_clock_skew: float = 60.0,
        catch_up: Optional[float] = None,
        path: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> None: ...
    @property
    def id(self) -> str:
        """This node's id (its source id); readable after :meth:`close` too."""
    @property
    def path(self) -> Optional[str]:
        """The store file given as ``path=``, or None for a node in memory."""
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
    @property
    def caught_up(self) -> bool:
        """False while a node that started empty catches up (``catch_up=``)."""
    @property
    def versions(self) -> Literal["counter", "hybrid"]:
        """How local writes are numbered."""
    def flush(self) -> None:
        """Makes every change so far durable (a barrier; a no-op in memory)."""
    def close(self) -> None:
        """Flushes and releases the store file; later calls raise :class:`ClosedError`.
        Closing again does nothing."""
    def __enter__(self) -> Gossip: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    @property
    def version(self) -> int:
        """The highest version this node has seen from anyone (0 for a fresh node)."""
    @property
    def mtu(self) -> int:
        """Maximum updates sent per message."""
    @property
    def max_history(self) -> int:
        """Superseded updates kept for replay."""
    @property
    def max_message_bytes(self) -> int:
        """Most encoded bytes of one message (and of one frame this node accepts)."""
    @property
    def state(self) -> dict[str, Entry]:
        """A snapshot of the live state: ``{key: Entry}``."""
    @property
    def history(self) -> History:
        """A view of the updates this node can still replay."""
    @property
    def watermarks(self) -> dict[str, int]:
        """Every known source with this node's watermark for it (its digest)."""
    @property
    def stats(self) -> dict[str, int]:
        """Counters of what this node did."""
    def set(self, key: str, value: Value, *, now: Optional[int] = None) -> bool:
        """Writes ``key = value``; False when the resolver rejects it (nothing changes)."""
    def delete(self, key: str, *, now: Optional[int] = None) -> bool:
        """Deletes ``key`` (writes a tombstone); False when the resolver rejects it."""
    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it has none."""
    def entry(self, key: str, *, tombstones: bool = False) -> Optional[Entry]:
        """The entry of ``key``, or None when it has no live value."""
    def __getitem__(self, key: str) -> Value: ...
    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def keys(self) -> list[str]:
        """The live keys, sorted."""
    def values(self) -> list[Value]:
        """The live values, in key order."""
    def items(self) -> list[tuple[str, Value]]:
        """The live ``(key, value)`` pairs, in key order."""
    def gossip(self, *, now: Optional[int] = None) -> None:
        """Starts an exchange over the pipe: queues this node's digest for ``read()``."""
    def read(self, n: Optional[int] = None) -> list[Message]:
        """Drains up to ``n`` (default: all) message dicts waiting for the pipe."""
    def write(self, msg: Message, *, peer: str = "peer") -> None:
        """Takes one message dict from the pipe; a reply it causes is queued for ``read()``.
        An invalid one raises :class:`InvalidMessageError` and changes nothing."""
    def finish_digest(self) -> None:
        """Ends and answers a digest the peer left without ``done`` (the seed's ``gossip()``
        stops before it past about ``mtu + 2`` sources); call it when the pipe is idle."""
    def pending(self) -> int:
        """How many message dicts wait for ``read()``."""
    def reset_pipe(self) -> None:
        """Drops the dicts waiting for ``read()`` and a half-written message."""
    def start_exchange(self, *, now: Optional[int] = None) -> bytes:
        """Opens an exchange: the CBOR frame to send a peer (this node's digest)."""
    def handle_frame(
        self, frame: bytes, *, peer: str = "peer", now: Optional[int] = None
    ) -> Optional[bytes]:
        """Handles one frame from ``peer`` at ``now``; returns the reply frame, or None at
        the end."""
    def watermark(self, source_id: str) -> int:
        """This node's watermark for ``source_id`` (0 when unknown)."""
    def handle_timeout(self, now: Optional[int] = None) -> int:
        """Collects the tombstones whose grace has passed; returns how many."""
    def collect_tombstones(self, *, now: Optional[int] = None) -> int:
        """The same as :meth:`handle_timeout`."""
    def poll_timeout(self) -> Optional[int]:
        """When :meth:`handle_timeout` has work next (ms since the epoch), or None."""
    def on_update(self, callback: _OnUpdate) -> _OnUpdate:
        """Registers ``callback(key, entry, peer)`` for every update that wins."""
    def on_compaction(self, callback: _OnCompaction) -> _OnCompaction:
        """Registers ``callback(dropped, history_len)`` for every compaction."""

def exchange(a: Gossip, b: Gossip, *, now: Optional[int] = None) -> int:
    """Runs one exchange started by ``a`` with ``b``; returns the updates it delivered."""

def sync(*nodes: Gossip, max_rounds: int = 1000, now: Optional[int] = None) -> int:
    """Exchanges between every pair of ``nodes`` until a round delivers no update; returns
    the number of rounds that delivered some. Raises :class:`SyncError` after
    ``max_rounds``."""

# The networked node (`scuttle.Node`, `scuttle.BlockingNode` in `_node.py`).

EventKind = Literal[
    "update",
    "forgotten",
    "peer_connected",
    "peer_disconnected",
    "connection_failed",
    "refused",
    "lagged",
    "other",
]
"""What a :class:`NodeEvent` reports."""

@final
class NodeEvent:
    """Something a node reports as it happens; fields that do not apply are None (or 0).

    * ``"update"``: a peer's message changed ``key`` to ``value`` (None: deleted); ``peer``
      sent it.
    * ``"forgotten"``: ``key``'s tombstone was collected on ``peer``'s word.
    * ``"peer_connected"`` / ``"peer_disconnected"``: ``peer`` (and, disconnected, ``reason``).
    * ``"connection_failed"``: a connection failed before its peer was known (``reason``).
    * ``"refused"``: ``peer``'s message was refused by the resolver or sorter (``reason``).
    * ``"lagged"``: this listener fell behind and missed ``missed`` events.
    """

    @property
    def kind(self) -> EventKind:
        """What happened."""
    @property
    def key(self) -> Optional[str]:
        """The key (``update``, ``forgotten``)."""
    @property
    def value(self) -> Optional[str]:
        """The new value (``update``; None for a delete)."""
    @property
    def peer(self) -> Optional[str]:
        """The peer concerned."""
    @property
    def reason(self) -> Optional[str]:
        """Why (``peer_disconnected``, ``connection_failed``, ``refused``)."""
    @property
    def missed(self) -> int:
        """Events missed (``lagged``)."""
    def __eq__(self, other: object) -> bool: ...

@final
class Member:
    """One member of the cluster, as this node's failure detector sees it."""

    @property
    def id(self) -> str:
        """Its node id (libp2p: the peer id)."""
    @property
    def addrs(self) -> list[str]:
        """Where it can be reached."""
    @property
    def state(self) -> Literal["alive", "suspect", "down"]:
        """Its liveness."""
    @property
    def connected(self) -> bool:
        """Whether this node has a connection to it now."""
    def __eq__(self, other: object) -> bool: ...

@final
class _Task:
    def cancel(self) -> None: ...

@final
class _EventStream:
    def next(self, done: Callable[[Optional[NodeEvent], Optional[BaseException]], None]) -> _Task: ...
    def next_wait(self, timeout: Optional[float] = None) -> Optional[NodeEvent]: ...

@final
class _NativeNode:
    def __init__(self, **options: Any) -> None: ...
    @property
    def id(self) -> str: ...
    @property
    def listen_addrs(self) -> list[str]: ...
    @property
    def api_addr(self) -> Optional[str]: ...
    @property
    def closed(self) -> bool: ...
    def set(
        self, key: str, value: str, done: Callable[[Any, Optional[BaseException]], None]
    ) -> None: ...
    def delete(self, key: str, done: Callable[[Any, Optional[BaseException]], None]) -> None: ...
    def set_wait(self, key: str, value: str) -> int: ...
    def delete_wait(self, key: str) -> int: ...
    def get(self, key: str) -> Optional[str]: ...
    def entry(self, key: str) -> Optional[Entry]: ...
    def state(self) -> dict[str, Entry]: ...
    def members(self) -> list[Member]: ...
    def peers(self) -> list[str]: ...
    def status(self) -> dict[str, Any]: ...
    def subscribe(self) -> _EventStream: ...
    def close(self) -> None: ...
