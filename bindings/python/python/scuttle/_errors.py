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


class StoreError(ScuttleError, OSError):
    """A node's store file failed: it could not be created or read, or (at run time) it
    refused a change, which was then not made in memory either.
    """


class CorruptStoreError(StoreError):
    """The file is not a readable scuttle store: truncated, corrupt, another kind of file, or
    a redb database that is not a scuttle store. The file was not changed.
    """


class StoreVersionError(StoreError):
    """The file is a scuttle store of a format version this build does not read."""


class WrongNodeError(StoreError):
    """The file is the store of another node id. The file was not changed."""


class StoreLockedError(StoreError):
    """The file is in use by another process, or by another open node in this one."""


class CatchingUpError(ScuttleError, RuntimeError):
    """A local write while the node catches up (``catch_up=``): it started empty and has not
    heard a peer yet. Nothing changed; retry after an exchange.
    """


class ClosedError(ScuttleError, ValueError):
    """A call on a node after :meth:`Gossip.close`."""


class NetworkError(ScuttleError, OSError):
    """A :class:`Node` could not set up its network: an address in use or not available, a
    socket that failed, libp2p transports that did not start.
    """


class RefusedError(ScuttleError, ValueError):
    """A :class:`Node` refused a write: the resolver said no, or it could never fit one
    message of ``max_message_bytes``. Nothing changed.
    """
