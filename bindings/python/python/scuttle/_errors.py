"""Exception classes of :mod:`scuttle` (raised by the native module too)."""

from __future__ import annotations


class ScuttleError(Exception):
    """Base class of the errors scuttle raises itself."""


class InvalidMessageError(ScuttleError, ValueError):
    """A message dict or CBOR frame does not parse or breaks the protocol.

    The node is left exactly as it was: state, version and watermarks.
    """


class ConfigError(ScuttleError, ValueError):
    """A :class:`Gossip` constructor argument breaks a constraint (for example ``mtu=0``)."""


class TooLargeError(ScuttleError, ValueError):
    """A write that could never fit one message of ``max_message_bytes``; nothing changed."""


class SyncError(ScuttleError, RuntimeError):
    """:func:`sync` did not settle within ``max_rounds`` rounds."""
