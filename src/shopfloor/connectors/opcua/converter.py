"""Pure OPC UA helpers: status codes to sample quality, timestamps to epoch ns, values.

>>> quality(0), quality(0x40000000), quality(0x80340000)
(192, 64, 0)
>>> from datetime import datetime, UTC
>>> to_ns(datetime(2024, 1, 1, tzinfo=UTC), None, 5)
1704067200000000000
>>> to_ns(None, None, 5)
5
>>> plain(3), plain(2.5), plain(True), plain("run"), plain([1, 2])
(3, 2.5, True, 'run', None)
>>> with_namespace("ns=2;s=a/b", 4), with_namespace("i=85", 4)
('ns=4;s=a/b', 'i=85')
"""

from __future__ import annotations

from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def quality(status: int) -> int:
    """OPC quality byte (192 good, 64 uncertain, 0 bad) from a status code's severity bits."""
    severity = (status >> 30) & 0b11
    return 192 if severity == 0 else 64 if severity == 1 else 0


def to_ns(source: datetime | None, server: datetime | None, now_ns: int) -> int:
    """Epoch nanoseconds of a value: its source timestamp, else the server's, else ``now_ns``."""
    stamp = source or server
    if stamp is None:
        return now_ns
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def plain(value: object) -> float | int | bool | str | None:
    """The value as a sample value, or None for types a sample cannot hold (arrays, structures)."""
    if isinstance(value, bool | int | float | str):
        return value
    return None


def with_namespace(node_id: str, ns: int) -> str:
    """Replace the ``ns=`` index of a node id string (used when the config names a namespace URI)."""
    if not node_id.startswith("ns="):
        return node_id
    _, _, rest = node_id.partition(";")
    return f"ns={ns};{rest}"
