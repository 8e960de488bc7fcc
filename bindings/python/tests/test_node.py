"""The networked node: `scuttle.Node` (asyncio) and `scuttle.BlockingNode`, on loopback.

No timing thresholds: every wait polls with a generous deadline, and fails only when the
deadline passes without the condition.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
import threading
import time
from typing import Any, Awaitable, Callable, Coroutine, Optional, TypeVar

import pytest

import scuttle

T = TypeVar("T")
DEADLINE = 30.0  # seconds; a condition that holds is usually seen within a second
FAST: dict[str, Any] = {"interval_ms": 50, "listen": "127.0.0.1:0"}


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(main())


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Polls `condition` until it holds; fails after DEADLINE."""
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {DEADLINE} s: {what}")
        await asyncio.sleep(0.02)


async def set_when_caught_up(node: scuttle.Node, key: str, value: str) -> int:
    """A node that started empty with peers refuses writes until it heard one."""
    end = time.monotonic() + DEADLINE
    while True:
        try:
            return await node.set(key, value)
        except scuttle.CatchingUpError:
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.02)


def tcp_addr(node: scuttle.Node) -> str:
    """The node's TCP listen multiaddr (libp2p also listens on QUIC)."""
    return next(a for a in node.listen_addrs if "/tcp/" in a)


async def next_update(events: scuttle.NodeEvents) -> scuttle.NodeEvent:
    async for event in events:
        if event.kind == "update":
            return event
    raise AssertionError("the events ended before an update")


def open_fds() -> list[str]:
    """What the process's file descriptors point at (sockets, pipes, files), sorted."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the fd of the listing itself, closed meanwhile
            pass
    return sorted(out)


def _no_start_threads() -> bool:
    return not any(t.name == "scuttle-node" for t in threading.enumerate())


def thread_count() -> int:
    """OS threads of the process (Python's and the native runtimes')."""
    return len(os.listdir("/proc/self/task"))


needs_proc = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux) to count fds and threads"
)


def test_three_libp2p_nodes_converge() -> None:
    async def main() -> None:
        a = await scuttle.Node.start(**FAST)
        async with a:
            b = await scuttle.Node.start(bootstrap=[tcp_addr(a)], **FAST)
            c = await scuttle.Node.start(bootstrap=tcp_addr(a), **FAST)
            async with b, c:
                nodes = [a, b, c]
                for i, node in enumerate(nodes):
                    assert await node.set(f"k{i}", f"from {node.id}") > 0
                await b.delete("k1")

                def deleted_by_b(n: scuttle.Node) -> bool:
                    entry = n.entry("k1")  # the tombstone, not just "never heard of it"
                    return entry is not None and entry.deleted and entry.source_id == b.id

                def converged() -> bool:
                    return all(
                        n.get("k0") == f"from {a.id}"
                        and deleted_by_b(n)
                        and n.get("k2") == f"from {c.id}"
                        for n in nodes
                    )

                await eventually(converged, "three nodes agree")
                assert set(a.state()) == {"k0", "k2"}
                # b and c learn of each other through the cluster, not from bootstrap=.
                await eventually(
                    lambda: all(
                        {m.id for m in n.members() if m.state == "alive"}
                        == {o.id for o in nodes} - {n.id}
                        for n in nodes
                    ),
                    "every node sees the other two alive",
                )
                assert a.status()["keys"] == 2
                assert len({a.id, b.id, c.id}) == 3

    run(main)


def test_three_tcp_nodes_converge(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        def tcp(id: str, peers: Optional[list[str]] = None) -> Awaitable[scuttle.Node]:
            # A data dir: writes are open at once (an empty tcp node without one waits to
            # catch up, see test_an_empty_tcp_node_catches_up_before_writes).
            return scuttle.Node.start(
                transport="tcp", id=id, peers=peers, path=tmp_path / id, **FAST
            )

        a = await tcp("a")
        b = await tcp("b", a.listen_addrs)
        c = await tcp("c", a.listen_addrs)
        async with a, b, c:
            assert (a.id, b.id, c.id) == ("a", "b", "c")
            await b.set("from-b", "1")
            await c.set("from-c", "2")
            await eventually(
                lambda: all(
                    n.get("from-b") == "1" and n.get("from-c") == "2" for n in (a, b, c)
                ),
                "b's and c's writes reach every node (c's through a)",
            )

    run(main)


def test_events_report_updates_and_end_at_close() -> None:
    async def main() -> None:
        a = await scuttle.Node.start(**FAST)
        b = await scuttle.Node.start(bootstrap=tcp_addr(a), **FAST)
        async with a:
            events = b.events()
            await a.set("greeting", "hello")
            update = await asyncio.wait_for(next_update(events), DEADLINE)
            assert (update.key, update.value, update.peer) == ("greeting", "hello", a.id)
            # An iterator waiting when its node closes ends.
            rest = asyncio.ensure_future(_drain(b.events()))
            await asyncio.sleep(0)
            await b.close()
            await asyncio.wait_for(rest, DEADLINE)

    run(main)


async def _drain(events: scuttle.NodeEvents) -> list[scuttle.NodeEvent]:
    return [e async for e in events]


def test_a_node_restarted_from_its_path_keeps_its_data_and_id(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        async with await scuttle.Node.start(path=tmp_path, **FAST) as node:
            first_id = node.id
            await node.set("kept", "yes")
            await node.set("gone", "soon")
            await node.delete("gone")
        async with await scuttle.Node.start(path=str(tmp_path), **FAST) as node:
            assert node.id == first_id
            assert node.get("kept") == "yes"
            assert node.get("gone") is None
            entry = node.entry("gone")
            assert entry is not None and entry.deleted

    run(main)


@needs_proc
def test_close_and_cancellation_leave_no_task_socket_or_thread() -> None:
    async def main() -> None:
        # libp2p's timer thread (`futures-timer`) is one per process, made by the first
        # node and kept: start one node before counting.
        await (await scuttle.Node.start(**FAST)).close()
        await eventually(lambda: _no_start_threads(), "the warm-up's threads ended")
        fds, threads = open_fds(), thread_count()
        a = await scuttle.Node.start(**FAST)
        b = await scuttle.Node.start(bootstrap=tcp_addr(a), **FAST)
        assert len(open_fds()) > len(fds)  # the count can see the nodes' sockets
        events = b.events()
        # A task awaiting events() is cancelled: the wait ends, and no event is lost.
        waiting = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await a.set("after-cancel", "1")
        update = await asyncio.wait_for(next_update(events), DEADLINE)
        assert update.key == "after-cancel"
        # Cancelled again, then the nodes close with the iterator still around.
        draining = asyncio.ensure_future(_drain(events))
        await asyncio.sleep(0)
        draining.cancel()
        with pytest.raises(asyncio.CancelledError):
            await draining
        await b.close()
        await a.close()
        assert asyncio.all_tasks() == {asyncio.current_task()}
        # The short-lived threads that ran start() and close() are ending.
        await eventually(lambda: thread_count() == threads, "every node thread ended")
        assert open_fds() == fds

    run(main)


def test_an_empty_tcp_node_catches_up_before_writes() -> None:
    """Without a data dir, a tcp node's id outlives it but its data does not: it refuses
    writes until it heard a peer (or a few rounds), so its own old updates come back first."""

    async def main() -> None:
        async with await scuttle.Node.start(transport="tcp", id="a", **FAST) as a:
            assert await set_when_caught_up(a, "k", "v") > 0
            assert a.get("k") == "v"

    run(main)


def test_an_event_that_comes_as_its_wait_is_cancelled_is_not_lost() -> None:
    """The event reaches the loop after its wait's future was cancelled: the next step of
    the iterator returns it."""

    async def main() -> None:
        a = await scuttle.Node.start(**FAST)
        b = await scuttle.Node.start(bootstrap=tcp_addr(a), **FAST)
        async with a, b:
            events = b.events()
            await a.set("first", "1")
            await asyncio.wait_for(next_update(events), DEADLINE)  # connected, caught up
            waiting = asyncio.ensure_future(events.__anext__())
            await asyncio.sleep(0)  # the wait is on b's runtime now
            await a.set("raced", "2")
            # Hold the loop (plain sleeps, no await) until b applied the update: its event
            # is handed to the loop meanwhile, and waits there behind the cancellation.
            end = time.monotonic() + DEADLINE
            while b.get("raced") is None and time.monotonic() < end:
                time.sleep(0.01)
            time.sleep(0.2)
            waiting.cancel()
            try:
                raced = await waiting  # already done before the cancel: fine too
            except asyncio.CancelledError:
                raced = await asyncio.wait_for(events.__anext__(), DEADLINE)
            assert (raced.kind, raced.key) == ("update", "raced")

    run(main)


def test_calls_after_close_raise_closed_error() -> None:
    async def main() -> None:
        node = await scuttle.Node.start(**FAST)
        await node.close()
        assert node.closed
        await node.close()  # again: nothing
        with pytest.raises(scuttle.ClosedError):
            await node.set("k", "v")
        with pytest.raises(scuttle.ClosedError):
            await node.delete("k")
        with pytest.raises(scuttle.ClosedError):
            node.get("k")
        with pytest.raises(scuttle.ClosedError):
            node.members()
        with pytest.raises(scuttle.ClosedError):
            node.events()
        assert node.id  # still known

    run(main)


def test_cancelled_start_leaves_no_node(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        start = asyncio.ensure_future(scuttle.Node.start(path=tmp_path, **FAST))
        await asyncio.sleep(0)
        start.cancel()
        with pytest.raises(asyncio.CancelledError):
            await start
        # The node it started anyway is closed: its data dir can be used again.
        await eventually(lambda: _can_start(tmp_path), "the abandoned node released its dir")

    run(main)


def _can_start(path: pathlib.Path) -> bool:
    try:
        scuttle.BlockingNode(path=path, **FAST).close()
    except scuttle.StoreError:
        return False
    return True


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"id": "a"}, "id= is for transport"),
        ({"peers": ["127.0.0.1:1"]}, "peers= is for"),
        ({"transport": "tcp", "bootstrap": ["127.0.0.1:1"]}, "bootstrap= and mdns="),
        ({"transport": "udp"}, "unknown transport"),
        ({"resolver": "nope"}, "nope"),
        ({"api": "nowhere"}, "api="),
        ({"listen": "not an address"}, "not an address"),
        ({"mtu": 0}, "mtu"),
    ],
)
def test_bad_options_raise_config_error(options: dict[str, Any], message: str) -> None:
    async def main() -> None:
        with pytest.raises(scuttle.ConfigError, match=message):
            await scuttle.Node.start(**options)

    run(main)
    with pytest.raises(ValueError, match=message):
        scuttle.BlockingNode(**options)


def test_log_level_prints_the_node_logs_to_stderr() -> None:
    # A subprocess: the log subscriber is one per process.
    script = (
        "import scuttle\n"
        "with scuttle.BlockingNode(listen='127.0.0.1:0', log_level='info'):\n"
        "    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=DEADLINE
    )
    assert done.returncode == 0, done.stderr
    assert "listening" in done.stderr and "\x1b[" not in done.stderr
    with pytest.raises(scuttle.ConfigError, match="log_level"):
        scuttle.BlockingNode(listen="127.0.0.1:0", log_level="=[")


def test_wrong_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        scuttle.BlockingNode(interval_ms="fast")  # type: ignore[arg-type]


def test_a_config_file_is_read_and_keywords_override_it(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('cluster = "blue"\ninterval_ms = 5000\nlisten = ["127.0.0.1:1"]\n')
    with scuttle.BlockingNode(config=config, listen="127.0.0.1:0") as node:
        assert node.status()["cluster"] == "blue"
        assert node.listen_addrs != ["127.0.0.1:1"]
    config.write_text("fanot = 3\n")
    with pytest.raises(scuttle.ConfigError, match="fanot"):
        scuttle.BlockingNode(config=config)


def test_blocking_node_for_scripts(tmp_path: pathlib.Path) -> None:
    tcp: dict[str, Any] = {"transport": "tcp", **FAST}
    with scuttle.BlockingNode(id="a", path=tmp_path / "a", **tcp) as a:
        with scuttle.BlockingNode(id="b", path=tmp_path / "b", peers=a.listen_addrs, **tcp) as b:
            events = b.events(timeout=DEADLINE)
            assert a.set("k", "v") > 0
            update = next(e for e in events if e.kind == "update")
            assert (update.key, update.value, update.peer) == ("k", "v", "a")
            assert b.get("k") == "v"
            a.delete("k")
            deleted = next(e for e in events if e.kind == "update")
            assert deleted.key == "k" and deleted.value is None
            assert list(b.events(timeout=0)) == []  # nothing new: stops at once
            assert "k" not in b.state() and b.peers() == ["a"]
        assert b.closed
        with pytest.raises(scuttle.ClosedError):
            b.set("k", "v")


def test_blocking_events_end_when_another_thread_closes_the_node() -> None:
    node = scuttle.BlockingNode(**FAST)
    events = node.events()  # no timeout: only the close ends it
    got: list[Optional[list[scuttle.NodeEvent]]] = [None]

    def read() -> None:
        got[0] = list(events)

    reader = threading.Thread(target=read)
    reader.start()
    node.close()
    reader.join(DEADLINE)
    assert got[0] == []


def test_an_event_loop_is_not_blocked_while_a_node_starts() -> None:
    async def main() -> None:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(tick())
        node: Awaitable[scuttle.Node] = scuttle.Node.start(**FAST)
        async with await node as n:
            assert n.listen_addrs
        ticker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await ticker
        assert ticks > 0

    run(main)
