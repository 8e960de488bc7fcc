"""Type stubs of the native module ``scuttle._scuttle`` (import from ``scuttle``)."""

from typing import Any, Callable, Iterator, Literal, Optional, TypeVar, Union, final

DEFAULT_PEER: str
"""The peer name used when none is given (``"peer"``)."""

PROTOCOL_VERSION: int
"""Version of the wire protocol."""

Value = Any
"""None, bool, int (-2**64 .. 2**64-1), float, str, bytes, list or dict of these."""

Message = dict[str, Any]
"""One message in the seed's shapes (see ``docs/python.md``)."""

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
class ManualClock:
    """A wall clock that moves only when told to (for ``lww_clock`` and tombstone tests)."""

    def __init__(self, start_ms: int = 0) -> None: ...
    def now(self) -> int:
        """The time, in milliseconds since the Unix epoch."""
    def set(self, ms: int) -> None:
        """Sets the time."""
    def advance(self, ms: int) -> None:
        """Moves the time forward."""

@final
class History:
    """The updates a node can still replay as news (``Gossip.history``)."""

    def news(self, source_id: str, version: int = 0) -> list[Message]:
        """The updates held from ``source_id`` above ``version``, ascending, as dicts."""
    def sources(self) -> list[str]:
        """Every source with at least one held update, sorted."""
    def __len__(self) -> int: ...

Resolve = Union[
    Literal["lww", "strict", "lww_clock"],
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
    news of an exchange cut by ``mtu``: ``"breadth"``, ``"depth"`` or a key callable over
    :class:`Update` (smaller first). ``tombstone_grace`` is in seconds (None: forever).
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
        clock: Optional[ManualClock] = None,
        max_frame_size: int = 4194304,
    ) -> None: ...
    @property
    def id(self) -> str:
        """This node's id (its source id)."""
    @property
    def version(self) -> int:
        """The highest version this node has seen from anyone (0 for a fresh node)."""
    @property
    def mtu(self) -> int:
        """Maximum updates sent per exchange."""
    @property
    def max_history(self) -> int:
        """Superseded updates kept for replay."""
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
    def set(self, key: str, value: Value) -> bool:
        """Writes ``key = value``; False when the resolver rejects it (nothing changes)."""
    def delete(self, key: str) -> bool:
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
    def gossip(self, peer: str = "peer") -> None:
        """Starts an exchange with ``peer``: queues this node's digest for it."""
    def read(self, n: Optional[int] = None, *, peer: str = "peer") -> list[Message]:
        """Drains up to ``n`` (default: all) messages queued for ``peer``, as dicts."""
    def write(self, msg: Message, *, peer: str = "peer") -> None:
        """Takes one message dict from ``peer``; an invalid one raises
        :class:`InvalidMessageError` and changes nothing."""
    def read_bytes(self, n: Optional[int] = None, *, peer: str = "peer") -> bytes:
        """Drains up to ``n`` messages for ``peer`` as concatenated CBOR frames."""
    def write_bytes(self, data: bytes, *, peer: str = "peer") -> int:
        """Takes one or more whole CBOR frames from ``peer``; returns how many messages."""
    def pending(self, peer: str = "peer") -> int:
        """How many messages wait for ``peer``."""
    def watermark(self, source_id: str) -> int:
        """This node's watermark for ``source_id`` (0 when unknown)."""
    def collect_tombstones(self) -> int:
        """Forgets expired tombstones; returns how many."""
    def forget_peer(self, peer: str) -> None:
        """Drops what is pending for ``peer``."""
    def on_update(self, callback: _OnUpdate) -> _OnUpdate:
        """Registers ``callback(key, entry, peer)`` for every update that wins."""
    def on_compaction(self, callback: _OnCompaction) -> _OnCompaction:
        """Registers ``callback(dropped, history_len)`` for every compaction."""
