"""The installed distribution: its name, its version and the package's ``__version__``."""

from __future__ import annotations

import importlib.metadata

import scuttle


def test_version_is_the_distribution_version() -> None:
    # The distribution is `scuttle-gossip` (`scuttle` on PyPI is another project); the native
    # module's version comes from Cargo.toml, like the wheel's.
    assert scuttle.__version__ == importlib.metadata.version("scuttle-gossip")
    parts = scuttle.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_distribution_metadata() -> None:
    meta = importlib.metadata.metadata("scuttle-gossip")
    assert meta["Name"] == "scuttle-gossip"
    assert meta["Requires-Python"] == ">=3.9"
    assert meta.get_all("License-Expression") == ["MIT OR Apache-2.0"]
    assert sorted(meta.get_all("License-File") or []) == ["LICENSE-APACHE", "LICENSE-MIT"]
