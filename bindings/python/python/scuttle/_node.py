"""Networked nodes: :class:`Node` (asyncio) and :class:`BlockingNode` (for scripts).

Both run ``scuttle node``'s node (libp2p or plain TCP) inside the extension, on a Rust
runtime of two threads: no Python thread per connection, no event loop of their own. An
async call of :class:`Node` spawns its request on that runtime and returns a future of the
running loop, completed with ``loop.call_soon_threadsafe`` when the request ends.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from types import TracebackType
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar, Union

from ._errors import ClosedError
from ._scuttle import Entry, Member, NodeEvent, _EventStream, _NativeNode

T = TypeVar("T")
Addresses = Union[str, Sequence[str]]
"""One address or a list of them: ``"127.0.0.1:7400"``, or a multiaddr (libp2p)."""
Path = Union[str, "os.PathLike[str]"]


def _close_abandoned(result: Any) -> None:
    """Closes a node whose start nobody waits for any more, off the loop."""
    if isinstance(result, _NativeNode):
        threading.Thread(target=result.close, name="scuttle-node-close").start()


def _settle(
    fut: asyncio.Future[Any],
    result: Any,
    error: Optional[BaseException],
    unclaimed: Callable[[Any], None],
) -> None:
    """Completes ``fut`` on its loop; a result that came after ``fut`` was cancelled goes to
    ``unclaimed``."""
    if fut.done():  # cancelled meanwhile
        if error is None:
            unclaimed(result)
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


def _bridge(
    unclaimed: Callable[[Any], None] = _close_abandoned,
) -> tuple[asyncio.Future[Any], Callable[[Any, Optional[BaseException]], None]]:
    """A future of the running loop, and the ``done(result, error)`` that completes it from
    any thread (the native module calls it from its runtime). A result that comes after the
    future was cancelled goes to ``unclaimed``."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def done(result: Any, error: Optional[BaseException]) -> None:
        try:
            loop.call_soon_threadsafe(_settle, fut, result, error, unclaimed)
        except RuntimeError:  # the loop is closed: no one is waiting
            if isinstance(result, _NativeNode):
                result.close()

    return fut, done


async def _in_thread(work: Callable[[], T]) -> T:
    """``work()`` on a short-lived thread (it blocks with the GIL released), awaited."""
    fut, done = _bridge()

    def run() -> None:
        try:
            result = work()
        except BaseException as e:  # handed to the awaiting coroutine
            done(None, e)
        else:
            done(result, None)

    threading.Thread(target=run, name="scuttle-node", daemon=True).start()
    try:
        value: T = await fut
    except asyncio.CancelledError:
        # Cancelled after the work finished but before this coroutine resumed: a node
        # started for no one is closed (the other order is `_settle`'s).
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            _close_abandoned(fut.result())
        raise
    return value


def _options(**options: Any) -> dict[str, Any]:
    """The keywords given (None means "the default": not passed on)."""
    return {k: v for k, v in options.items() if v is not None}


class NodeEvents:
    """An async iterator of a :class:`Node`'s events (:class:`NodeEvent`), from the call of
    :meth:`Node.events` on; it ends when the node closes. Cancelling a task that awaits it
    cancels the wait and loses no event: one that arrived as the wait was cancelled comes
    first from the next step.
    """

    def __init__(self, stream: _EventStream) -> None:
        self._stream = stream
        # Events received for waits that were cancelled meanwhile, oldest first: they came
        # before any event of a later wait (one wait at a time, results in order on the loop).
        self._unclaimed: deque[NodeEvent] = deque()
        self._waiting: Optional[asyncio.Future[Any]] = None
        self._ended = False

    def __aiter__(self) -> NodeEvents:
        return self

    def _keep(self, event: Optional[NodeEvent]) -> None:
        """An event whose wait was cancelled: to the wait pending now (it is older than
        anything that wait can receive), else kept for the next step."""
        if event is None:
            return
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(event)
        else:
            self._unclaimed.append(event)

    async def __anext__(self) -> NodeEvent:
        if self._unclaimed:
            return self._unclaimed.popleft()
        if self._ended:
            raise StopAsyncIteration
        fut, done = _bridge(self._keep)
        try:
            task = self._stream.next(done)
        except ClosedError:
            raise StopAsyncIteration from None
        self._waiting = fut
        try:
            event: Optional[NodeEvent] = await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                # The event came just before the cancel, the task had not resumed yet.
                self._keep(fut.result())
            raise
        finally:
            self._waiting = None
            # Ends the wait if it still runs (its event, if any, comes as unclaimed), and
            # lets go of the runtime: this frame may outlive the node in a traceback.
            task.cancel()
        if event is None:
            self._ended = True
        else:
            self._unclaimed.append(event)
        if self._unclaimed:
            return self._unclaimed.popleft()
        raise StopAsyncIteration


class _NodeReads:
    """What :class:`Node` and :class:`BlockingNode` share: the node's identity and its
    reads, each a quick round trip to the node's runtime with the GIL released."""

    _native: _NativeNode

    @property
    def id(self) -> str:
        """The node's id (libp2p: the peer id of its identity key, kept in ``path=``)."""
        return self._native.id

    @property
    def listen_addrs(self) -> list[str]:
        """The addresses it listens on (libp2p: multiaddrs, with the ports bound)."""
        return self._native.listen_addrs

    @property
    def api_addr(self) -> Optional[str]:
        """The HTTP API's address (``HOST:PORT``), or None without ``api=``."""
        return self._native.api_addr

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    def get(self, key: str) -> Optional[str]:
        """The value of ``key``, or None when it is missing or deleted."""
        return self._native.get(key)

    def entry(self, key: str) -> Optional[Entry]:
        """The entry of ``key`` with its version and writer (tombstones too), or None."""
        return self._native.entry(key)

    def state(self) -> dict[str, Entry]:
        """The live entries: ``{key: Entry}``."""
        return self._native.state()

    def members(self) -> list[Member]:
        """The members this node knows of (not itself), sorted by id."""
        return self._native.members()

    def peers(self) -> list[str]:
        """The ids of the peers connected now, sorted."""
        return self._native.peers()

    def status(self) -> dict[str, Any]:
        """The node's status, as the HTTP API's ``GET /v1/status`` gives it."""
        return self._native.status()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running"
        return f"<scuttle.{type(self).__name__} {self.id} {state}>"


class Node(_NodeReads):
    """A networked scuttle node for asyncio: ``await Node.start(...)``, then ``await set``,
    ``get``, ``await delete``, ``async for event in node.events()``, ``members()`` and
    ``await close()`` (or ``async with``). See ``docs/python.md``.
    """

    def __init__(self, native: _NativeNode) -> None:
        """Wraps a started native node; use :meth:`start`."""
        self._native = native

    @classmethod
    async def start(
        cls,
        *,
        id: Optional[str] = None,  # noqa: A002 - the option's name, as in `scuttle node --id`
        listen: Optional[Addresses] = None,
        bootstrap: Optional[Addresses] = None,
        peers: Optional[Addresses] = None,
        path: Optional[Path] = None,
        cluster: Optional[str] = None,
        transport: Optional[str] = None,
        mdns: Optional[bool] = None,
        resolver: Optional[str] = None,
        sorter: Optional[str] = None,
        mtu: Optional[int] = None,
        max_message_bytes: Optional[int] = None,
        interval_ms: Optional[int] = None,
        fanout: Optional[int] = None,
        compression: Optional[bool] = None,
        max_connections: Optional[int] = None,
        member_grace_secs: Optional[int] = None,
        api: Optional[str] = None,
        log_level: Optional[str] = None,
        wire: Optional[str] = None,
        config: Optional[Path] = None,
    ) -> Node:
        """Starts a node and returns once it listens, without blocking the event loop.

        The options are those of ``scuttle node`` (``path=`` is ``--data-dir``, ``config=``
        a TOML file read first). Raises :class:`ConfigError` (a ``ValueError``) for bad
        options, :class:`NetworkError` when it cannot listen, :class:`StoreError` for a data
        dir it cannot use.
        """
        options = _options(
            id=id, listen=listen, bootstrap=bootstrap, peers=peers, path=path,
            cluster=cluster, transport=transport, mdns=mdns, resolver=resolver,
            sorter=sorter, mtu=mtu, max_message_bytes=max_message_bytes,
            interval_ms=interval_ms, fanout=fanout, compression=compression,
            max_connections=max_connections, member_grace_secs=member_grace_secs,
            api=api,
            log_level=log_level, wire=wire, config=config,
        )
        native = await _in_thread(lambda: _NativeNode(**options))
        return cls(native)

    async def set(self, key: str, value: str) -> int:
        """Writes ``key = value`` and returns the write's version. Raises
        :class:`RefusedError`, :class:`CatchingUpError`, :class:`StoreError`,
        :class:`ClosedError`. A cancelled call may still have written."""
        fut, done = _bridge()
        self._native.set(key, value, done)
        version: int = await fut
        return version

    async def delete(self, key: str) -> int:
        """Deletes ``key`` (a tombstone) and returns its version."""
        fut, done = _bridge()
        self._native.delete(key, done)
        version: int = await fut
        return version

    def events(self) -> NodeEvents:
        """The node's events from now on, as an async iterator that ends when the node
        closes: ``async for event in node.events(): ...``."""
        return NodeEvents(self._native.subscribe())

    async def close(self) -> None:
        """Stops the node (a libp2p node tells the cluster it leaves) without blocking the
        loop; every ``events()`` iterator ends. Later calls raise :class:`ClosedError`;
        closing again does nothing."""
        await _in_thread(self._native.close)

    async def __aenter__(self) -> Node:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()


class BlockingNode(_NodeReads):
    """The same node for scripts and threads, without asyncio: every call blocks (with the
    GIL released) until the node answers. ``with scuttle.BlockingNode(...) as node:``.

    Takes the keywords of :meth:`Node.start`.
    """

    def __init__(
        self,
        *,
        id: Optional[str] = None,  # noqa: A002
        listen: Optional[Addresses] = None,
        bootstrap: Optional[Addresses] = None,
        peers: Optional[Addresses] = None,
        path: Optional[Path] = None,
        cluster: Optional[str] = None,
        transport: Optional[str] = None,
        mdns: Optional[bool] = None,
        resolver: Optional[str] = None,
        sorter: Optional[str] = None,
        mtu: Optional[int] = None,
        max_message_bytes: Optional[int] = None,
        interval_ms: Optional[int] = None,
        fanout: Optional[int] = None,
        compression: Optional[bool] = None,
        max_connections: Optional[int] = None,
        member_grace_secs: Optional[int] = None,
        api: Optional[str] = None,
        log_level: Optional[str] = None,
        wire: Optional[str] = None,
        config: Optional[Path] = None,
    ) -> None:
        self._native = _NativeNode(**_options(
            id=id, listen=listen, bootstrap=bootstrap, peers=peers, path=path,
            cluster=cluster, transport=transport, mdns=mdns, resolver=resolver,
            sorter=sorter, mtu=mtu, max_message_bytes=max_message_bytes,
            interval_ms=interval_ms, fanout=fanout, compression=compression,
            max_connections=max_connections, member_grace_secs=member_grace_secs,
            api=api,
            log_level=log_level, wire=wire, config=config,
        ))

    def set(self, key: str, value: str) -> int:
        """Writes ``key = value``; returns the write's version."""
        return self._native.set_wait(key, value)

    def delete(self, key: str) -> int:
        """Deletes ``key``; returns the tombstone's version."""
        return self._native.delete_wait(key)

    def events(self, timeout: Optional[float] = None) -> Iterator[NodeEvent]:
        """The node's events from now on. The iterator stops after ``timeout`` seconds
        without an event (None: only when the node closes). Ctrl-C interrupts a wait."""
        stream = self._native.subscribe()  # now, not at the first next()

        def iterate() -> Iterator[NodeEvent]:
            while True:
                event = stream.next_wait(timeout)
                if event is None:
                    return
                yield event

        return iterate()

    def close(self) -> None:
        """Stops the node; closing again does nothing."""
        self._native.close()

    def __enter__(self) -> BlockingNode:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()
