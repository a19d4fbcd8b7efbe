"""Pure helpers for the plain-MQTT namespace: topic names and payloads a device publishes.

Decoding and validating what arrives is :mod:`shopfloor.ingest` (one decoder for every
source); these are the other direction, for simulators, benchmarks and bridges.

>>> data_topic("s/a/l/m")
'shopfloor/v1/s/a/l/m/data'
>>> data_topic("s/a/l/m", "temp", root="plant/v1")
'plant/v1/s/a/l/m/data/temp'
>>> values_payload({"temp": 21.5, "on": True}, ts=1700000000000000000)
b'{"ts":1700000000000000000,"values":{"temp":21.5,"on":true}}'
>>> value_payload(812.5, q="good")
b'{"value":812.5,"q":"good"}'
>>> broker_counter("$SYS/broker/publish/messages/dropped", b"17")
('dropped', 17)
>>> broker_counter("$SYS/broker/version", b"mosquitto version 2.0.11") is None
True
"""

from __future__ import annotations

from typing import Any

import msgspec

ROOT = "shopfloor/v1"

#: Mosquitto ``$SYS`` counters the ingest source watches, by short name. ``dropped`` counts
#: messages the broker discarded because a client's queue was full (``max_queued_messages``):
#: data that never reached a subscriber, so the platform raises an alarm when it grows.
SYS_COUNTERS = {
    "$SYS/broker/publish/messages/dropped": "dropped",
    "$SYS/broker/clients/connected": "clients_connected",
    "$SYS/broker/store/messages/count": "stored_messages",
    "$SYS/broker/messages/received": "messages_received",
}
_ENC = msgspec.json.Encoder()


def data_topic(asset: str, tag: str | None = None, root: str = ROOT) -> str:
    """``<root>/<asset>/data`` or, with a tag, ``<root>/<asset>/data/<tag>``."""
    base = f"{root.rstrip('/')}/{asset}/data"
    return f"{base}/{tag}" if tag else base


def command_topic(asset: str, command: str, root: str = ROOT) -> str:
    """``<root>/cmd/<asset>/<command>``: the command subtree, never ingested as data."""
    return f"{root.rstrip('/')}/cmd/{asset}/{command}"


def values_payload(values: dict[str, Any], ts: int | str | None = None) -> bytes:
    """Shape a: several tags at one time."""
    body: dict[str, Any] = {"ts": ts} if ts is not None else {}
    body["values"] = values
    return _ENC.encode(body)


def value_payload(
    value: Any, ts: int | str | None = None, q: str | int | None = None, unit: str | None = None
) -> bytes:
    """A per-tag topic payload: the bare value, or an object when ts, q or unit is given."""
    if ts is None and q is None and unit is None:
        return _ENC.encode(value)
    body: dict[str, Any] = {}
    if ts is not None:
        body["ts"] = ts
    body["value"] = value
    if q is not None:
        body["q"] = q
    if unit is not None:
        body["unit"] = unit
    return _ENC.encode(body)


def broker_counter(topic: str, payload: bytes) -> tuple[str, int] | None:
    """``(name, value)`` for a watched ``$SYS`` counter, else None (unknown topic or not a number)."""
    name = SYS_COUNTERS.get(topic)
    if name is None:
        return None
    try:
        return name, int(payload.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None
