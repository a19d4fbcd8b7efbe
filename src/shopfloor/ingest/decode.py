"""Topic namespace and payload decoding (msgspec on the hot path).

Topics (``<root>`` is ``shopfloor/v1`` by default)::

    <root>/<asset path>/data          payload: shape a, b or an array of them (shape c)
    <root>/<asset path>/data/<tag>    payload: a bare JSON value or {"ts", "value", "q", "unit"}
    <root>/cmd/...                    commands: not ingested
    <root>/<asset path>/state|event|status   other kinds: not ingested here

>>> parse_topic("shopfloor/v1/s/a/l/m/data", "shopfloor/v1")
Route(kind='data', asset='s/a/l/m', tag=None)
>>> parse_topic("shopfloor/v1/s/a/l/m/data/temp", "shopfloor/v1")
Route(kind='tag', asset='s/a/l/m', tag='temp')
>>> parse_topic("shopfloor/v1/cmd/s/a/l/m/set", "shopfloor/v1").kind
'ignore'
>>> decode_points(b'{"ts": 1, "tag": "t", "value": 2.5}')
([Point(ts=1, values=None, tag='t', value=2.5, q=None, unit=None, asset=None)], False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from ..core.errors import DecodeError

KINDS = frozenset({"data", "state", "event", "status"})


@dataclass(slots=True, frozen=True)
class Route:
    """Where a topic points: ``data`` (shapes a/b/c), ``tag`` (one tag) or ``ignore``."""

    kind: Literal["data", "tag", "ignore"]
    asset: str = ""
    tag: str | None = None


IGNORE = Route("ignore")


def parse_topic(topic: str, root: str) -> Route:
    """Route of ``topic``; :class:`DecodeError` if it is under ``root`` but not a valid topic."""
    prefix = root + "/"
    if not topic.startswith(prefix):
        return IGNORE
    rest = topic[len(prefix) :]
    if rest == "cmd" or rest.startswith("cmd/"):
        return IGNORE
    segs = rest.split("/")
    for i, seg in enumerate(segs):  # noqa: B007 - i is used after the loop
        if seg in KINDS:
            break
    else:
        raise DecodeError(f"topic {topic!r} names no kind: use {root}/<asset path>/data[/<tag>]")
    if i == 0:
        raise DecodeError(f"topic {topic!r} names no asset: use {root}/<asset path>/data[/<tag>]")
    if segs[i] != "data":
        return IGNORE
    asset = "/".join(segs[:i])
    after = segs[i + 1 :]
    if not after:
        return Route("data", asset)
    if len(after) == 1 and after[0]:
        return Route("tag", asset, after[0])
    raise DecodeError(f"topic {topic!r}: after 'data' expected at most one tag name")


class Point(msgspec.Struct):
    """One object of shape a (``values``) or b (``tag`` + ``value``); ``asset`` for HTTP.

    Fields are loosely typed on purpose: the validator checks them one by one so that one bad
    field rejects only its own sample, with a message naming it.
    """

    ts: Any = None
    values: Any = None
    tag: Any = None
    value: Any = msgspec.UNSET
    q: Any = None
    unit: Any = None
    asset: Any = None


_TYPED = msgspec.json.Decoder(Point | list[Point])
_ANY = msgspec.json.Decoder()
_CONVERT_ERRORS = (msgspec.ValidationError, TypeError)


_JSON_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def _malformed(err: Exception) -> DecodeError:
    """The one message for JSON that cannot be read (msgspec, nesting or UTF-8 errors)."""
    if isinstance(err, RecursionError):
        return DecodeError("malformed JSON: nested too deeply")
    if isinstance(err, UnicodeDecodeError):
        return DecodeError(f"malformed JSON: invalid UTF-8 at byte {err.start}")
    return DecodeError(f"malformed JSON: {err}")


def decode_json(payload: bytes) -> Any:
    """Any JSON value; :class:`DecodeError` for malformed JSON, numbers out of range, deep nesting."""
    try:
        return _ANY.decode(payload)
    except _JSON_ERRORS as err:
        raise _malformed(err) from None


def decode_points(payload: bytes) -> tuple[list[Point | DecodeError], bool]:
    """The objects of a shape a/b/c payload, and whether it was an array (shape c).

    An array item that is not an object comes back as a :class:`DecodeError` in its place, so
    the other items still count.
    """
    try:
        out = _TYPED.decode(payload)
    except msgspec.ValidationError:
        pass  # valid JSON, but not an object or an array of objects: look item by item
    except _JSON_ERRORS as err:
        raise _malformed(err) from None
    else:
        if isinstance(out, list):
            if not out:
                raise DecodeError("payload is an empty array: no samples")
            return list(out), True
        return [out], False
    raw = decode_json(payload)
    if not isinstance(raw, list):
        raise DecodeError(f"payload must be a JSON object or an array of objects, got {_kind(raw)}")
    if not raw:
        raise DecodeError("payload is an empty array: no samples")
    items: list[Point | DecodeError] = []
    for item in raw:
        if isinstance(item, dict):
            try:
                items.append(msgspec.convert(item, Point))
            except _CONVERT_ERRORS as err:
                bad = DecodeError(f"not a valid object: {err}")
                bad.fragment = encode(item)  # type: ignore[attr-defined]
                items.append(bad)
        else:
            bad = DecodeError(f"array items must be objects, got {_kind(item)}")
            bad.fragment = encode(item)  # type: ignore[attr-defined]
            items.append(bad)
    return items, True


def encode(obj: Any) -> bytes:
    """Compact JSON of a (decoded) fragment, for dead letters."""
    try:
        return msgspec.json.encode(obj)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return repr(obj).encode("utf-8", "replace")


def _kind(value: object) -> str:
    names = {
        bool: "a bool",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
