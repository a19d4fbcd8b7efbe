"""Signed webhook payloads: HMAC-SHA256 over the timestamp and the body.

Each POST carries ``X-Shopfloor-Timestamp: <unix seconds>`` and
``X-Shopfloor-Signature: sha256=<hex>``, where ``<hex>`` is
``HMAC-SHA256(secret, "<timestamp>." + body)``. A receiver recomputes it over the raw body,
compares in constant time, and rejects timestamps too far from its clock (replays).

>>> sig = signature(b"k", 1700000000, b'{"a":1}')
>>> sig.startswith("sha256="), verify(b"k", "1700000000", sig, b'{"a":1}', now=1700000010)
(True, True)
>>> verify(b"k", "1700000000", sig, b'{"a":2}', now=1700000010)
False
>>> verify(b"k", "1700000000", sig, b'{"a":1}', now=1700009999)  # too old: a replay
False
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Shopfloor-Signature"
TIMESTAMP_HEADER = "X-Shopfloor-Timestamp"
DELIVERY_HEADER = "X-Shopfloor-Delivery"


def signature(secret: bytes, ts: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``ts`` (unix seconds)."""
    mac = hmac.new(secret, str(int(ts)).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: bytes, ts: str, sig: str, body: bytes, *, tolerance_s: float = 300.0, now: float | None = None
) -> bool:
    """A receiver's check: the signature matches and the timestamp is within ``tolerance_s``."""
    try:
        sent = int(ts)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, sent, body), sig or "")
