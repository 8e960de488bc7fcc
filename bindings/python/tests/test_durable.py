"""Durable nodes: ``Gossip(id, path=...)`` / ``scuttle.open``, ``close()`` and ``with``,
restarts (also after SIGKILL), the typed errors of files that are not this node's store,
catch-up, hybrid versions and the ``now`` of frames."""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import scuttle

T = 1_700_000_000_000


def filled(tmp_path: Path) -> Path:
    """The closed store of node "a" holding 100 keys."""
    path = tmp_path / "a.redb"
    with scuttle.open(path, "a", versions="hybrid") as g:
        for i in range(100):
            g.set(f"key-{i}", "x" * 50)
    return path


def test_reopen_keeps_data_tombstones_and_version(tmp_path: Path) -> None:
    path = tmp_path / "a.redb"
    g = scuttle.Gossip("a", path=str(path), versions="hybrid")
    assert g.path == str(path) and g.versions == "hybrid"
    g.set("k", {"n": 1, "b": b"\x00"})
    g.set("gone", 1)
    g.delete("gone")
    version = g.version
    g.flush()
    g.close()

    with scuttle.open(path, "a", versions="hybrid") as g:
        assert g["k"] == {"n": 1, "b": b"\x00"}
        assert "gone" not in g
        tomb = g.entry("gone", tombstones=True)
        assert tomb is not None and tomb.deleted and tomb.version == version
        assert g.version == version
        assert g.set("k", 2)
        assert g.version > version


def test_counter_versions_survive_a_restart_too(tmp_path: Path) -> None:
    path = tmp_path / "a.redb"
    with scuttle.open(path, "a") as g:
        g.set("k", 1, now=T)
        g.set("k", 2, now=T)
    with scuttle.open(path, "a") as g:
        assert g.version == 2 and g["k"] == 2
        g.set("k", 3, now=T)
        entry = g.entry("k")
        assert entry is not None and entry.version == 3


def test_updates_from_a_peer_are_durable(tmp_path: Path) -> None:
    a = scuttle.Gossip("a", versions="hybrid")
    a.set("k", "from a")
    seen: list[str] = []
    with scuttle.open(tmp_path / "b.redb", "b", versions="hybrid") as b:
        b.on_update(lambda key, entry, peer: seen.append(key))
        reply = a.handle_frame(b.start_exchange())
        assert reply is not None
        b.handle_frame(reply)
        assert seen == ["k"]
    with scuttle.open(tmp_path / "b.redb", "b", versions="hybrid") as b:
        assert b["k"] == "from a"
        assert scuttle.sync(a, b) == 0


def test_close_is_idempotent_and_later_calls_raise(tmp_path: Path) -> None:
    g = scuttle.open(tmp_path / "a.redb", "a")
    g.set("k", 1)
    g.close()
    g.close()
    assert g.closed and g.id == "a"
    assert "closed" in repr(g)
    with pytest.raises(scuttle.ClosedError, match="closed"):
        g.set("k", 2)
    with pytest.raises(scuttle.ClosedError):
        g["k"]
    with pytest.raises(scuttle.ClosedError):
        len(g)
    with pytest.raises(scuttle.ClosedError):
        _ = g.version
    with pytest.raises(scuttle.ClosedError):
        g.start_exchange()
    with pytest.raises(scuttle.ClosedError):
        g.handle_frame(b"\x00\x00\x00\x00")
    with pytest.raises(scuttle.ClosedError):
        g.flush()
    with pytest.raises(scuttle.ClosedError):
        g.read()
    with pytest.raises(scuttle.ClosedError):
        g.gossip()
    with pytest.raises(scuttle.ClosedError):
        with g:
            pass
    # A node in memory closes too.
    m = scuttle.Gossip("m")
    with m:
        m.set("k", 1)
    assert m.closed
    with pytest.raises(ValueError):  # ClosedError is a ValueError, like a closed file's
        m.keys()


def test_close_releases_the_file_and_an_open_one_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "a.redb"
    g = scuttle.open(path, "a")
    g.set("k", 1)
    with pytest.raises(scuttle.StoreLockedError):
        scuttle.open(path, "a")
    g.close()
    with scuttle.open(path, "a") as again:
        assert again["k"] == 1
    # Leaving a `with` block by an exception closes too.
    with pytest.raises(KeyError):
        with scuttle.open(path, "a") as g:
            g["missing"]
    assert g.closed
    scuttle.open(path, "a").close()


def test_truncated_corrupt_and_other_files_are_corrupt_store_errors(tmp_path: Path) -> None:
    path = filled(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.redb"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(scuttle.CorruptStoreError, match="corrupt"):
        scuttle.open(cut, "a")
    flipped = tmp_path / "flipped.redb"
    flipped.write_bytes(bytes(b ^ 0xA5 for b in data[:64]) + data[64:])
    with pytest.raises(scuttle.CorruptStoreError):
        scuttle.open(flipped, "a")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    with pytest.raises(scuttle.CorruptStoreError) as info:
        scuttle.open(notes, "a")
    assert isinstance(info.value, scuttle.StoreError)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, scuttle.ScuttleError)
    assert notes.read_text() == "not a database\n" * 100, "the file is left alone"
    with scuttle.open(path, "a") as g:
        assert len(g) == 100


DATA = Path(__file__).parent / "data"


def unpacked(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.decompress((DATA / f"{name}.gz").read_bytes()))
    return path


def test_another_format_version_is_a_store_version_error(tmp_path: Path) -> None:
    path = unpacked(tmp_path, "format2.redb")
    for _ in range(2):  # the refused file is not rewritten as a store of this format
        with pytest.raises(scuttle.StoreVersionError, match="format 2"):
            scuttle.open(path, "a")


def test_another_redb_database_is_a_corrupt_store_error(tmp_path: Path) -> None:
    path = unpacked(tmp_path, "foreign.redb")
    with pytest.raises(scuttle.CorruptStoreError, match="not a scuttle store"):
        scuttle.open(path, "a")


def test_another_nodes_store_is_a_wrong_node_error(tmp_path: Path) -> None:
    path = filled(tmp_path)
    with pytest.raises(scuttle.WrongNodeError, match='"a"'):
        scuttle.open(path, "b")
    with scuttle.open(path, "a") as g:
        assert len(g) == 100


def test_an_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(scuttle.StoreError):
        scuttle.open(tmp_path / "no" / "such" / "dir.redb", "a")


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(scuttle.ConfigError, match="versions"):
        scuttle.Gossip("a", versions="wallclock")  # type: ignore[arg-type]
    with pytest.raises(scuttle.ConfigError, match="catch_up"):
        scuttle.Gossip("a", catch_up=-1.0)
    with pytest.raises(scuttle.ConfigError, match="max_clock_skew"):
        scuttle.Gossip("a", max_clock_skew=float("nan"))
    assert not (tmp_path / "x.redb").exists()


def test_an_empty_node_catches_up_before_it_writes(tmp_path: Path) -> None:
    a = scuttle.Gossip("a", versions="hybrid")
    with scuttle.open(tmp_path / "b.redb", "b", versions="hybrid", catch_up=60.0) as b:
        assert not b.caught_up
        with pytest.raises(scuttle.CatchingUpError):
            b.set("k", 1)
        assert b.version == 0 and len(b) == 0
        scuttle.exchange(b, a)
        assert b.caught_up
        assert b.set("k", 1)
    # A store that holds data opens writes at once.
    with scuttle.open(tmp_path / "b.redb", "b", versions="hybrid", catch_up=60.0) as b:
        assert b.caught_up and b.set("k", 2)
    # With no peer, the period ends the wait (counted from the first `now`).
    lonely = scuttle.Gossip("c", catch_up=60.0)
    with pytest.raises(scuttle.CatchingUpError):
        lonely.set("k", 1, now=T)
    assert lonely.set("k", 1, now=T + 60_000)


def test_handle_frame_uses_the_now_it_is_given() -> None:
    a = scuttle.Gossip("a", versions="hybrid")
    b = scuttle.Gossip("b", versions="hybrid", max_clock_skew=1.0)
    a.set("k", 1, now=T + 10_000)  # a's clock runs 10 s ahead of b's
    syn_ack = a.handle_frame(b.start_exchange(now=T), now=T + 10_000)
    assert syn_ack is not None
    b.handle_frame(syn_ack, now=T)
    assert "k" not in b, "news too far ahead of now waits"
    syn_ack = a.handle_frame(b.start_exchange(now=T + 9_500), now=T + 10_000)
    assert syn_ack is not None
    b.handle_frame(syn_ack, now=T + 9_500)
    assert b["k"] == 1


CHILD = """
import sys
import scuttle
path, start = sys.argv[1], int(sys.argv[2])
g = scuttle.open(path, "a", versions="hybrid")
i = start
while True:
    g.set(f"k{i}", i)
    print(i, g.version, flush=True)  # acknowledged: set() returned
    i += 1
"""


def test_a_node_killed_with_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "a.redb"
    rng = random.Random(7)
    acked: dict[int, int] = {}  # key index -> version acknowledged
    start = 0
    last_version = 0
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        want = rng.randint(1, 30)
        got = 0
        while got < want:
            line = child.stdout.readline()
            assert line, f"the child stopped early (exit {child.poll()})"
            i, version = map(int, line.split())
            assert version > last_version, "a restarted node never reuses a version"
            last_version = version
            acked[i] = version
            got += 1
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        with scuttle.open(path, "a", versions="hybrid") as g:
            for i, version in acked.items():
                entry = g.entry(f"k{i}")
                assert entry is not None, f"acknowledged write k{i} lost"
                assert (entry.value, entry.version) == (i, version)
            assert g.version >= last_version
            last_version = g.version
        start = max(acked) + 1
    assert len(acked) >= 20


def test_the_durable_nodes_example_in_the_docs_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from test_docs import DOC

    if not DOC.exists():  # the package is used outside the repository
        return
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (example,) = [b for b in blocks if "scuttle.open(" in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, str(DOC), "exec"), {"scuttle": scuttle})
    with scuttle.open("alice.redb", "alice", versions="hybrid") as g:
        assert g["color"] == "red"
