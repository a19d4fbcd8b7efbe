"""Pure Sparkplug B helpers: topic names, and Sparkplug ids/metric names -> plant assets and tags.

Topics (Sparkplug 3.0)::

    spBv1.0/<group_id>/<NBIRTH|NDATA|NDEATH|NCMD>/<edge_node_id>
    spBv1.0/<group_id>/<DBIRTH|DDATA|DDEATH|DCMD>/<edge_node_id>/<device_id>
    spBv1.0/STATE/<host_id>                       (host application online/offline, JSON)

>>> topic("riverside.converting", "NDATA", "line1")
'spBv1.0/riverside.converting/NDATA/line1'
>>> parse_topic("spBv1.0/riverside.converting/DDATA/line1/cutter")
SpTopic(group='riverside.converting', kind='DDATA', node='line1', device='cutter')
>>> parse_topic("spBv1.0/STATE/shopfloor")
SpTopic(group='', kind='STATE', node='shopfloor', device=None)

Mapping to the plant model (see ``docs/sparkplug.md``). By convention the group id is the
asset path above the edge node with ``.`` between levels, the edge node id is the next level
and the device id the one after it; a metric name is a tag of that asset, or with ``/`` in it,
``<sub asset path>/<tag>`` below it. An asset may name its Sparkplug id explicitly in the plant
file instead (``attributes = { sparkplug = "<group>/<node>[/<device>]" }``), which wins.

>>> m = AssetMap({})
>>> m.asset("riverside.converting", "line1", "cutter")
'riverside/converting/line1/cutter'
>>> m.asset("riverside.converting", "line1", None)
'riverside/converting/line1'
>>> split_metric("riverside/converting/line1", "cutter/cutting_force")
('riverside/converting/line1/cutter', 'cutting_force')
>>> AssetMap({"plant-a/gw7/press": "riverside/converting/line2/sheeter"}).asset("plant-a", "gw7", "press")
'riverside/converting/line2/sheeter'
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ...core.assets import Plant

NAMESPACE = "spBv1.0"
NODE_KINDS = frozenset({"NBIRTH", "NDATA", "NDEATH", "NCMD"})
DEVICE_KINDS = frozenset({"DBIRTH", "DDATA", "DDEATH", "DCMD"})
REBIRTH = "Node Control/Rebirth"
BDSEQ = "bdSeq"
CONTROL_PREFIXES = ("Node Control/", "Device Control/", "Properties/", "Node Info/")
"""Metric names that describe the node itself, not a measurement: never mapped to tags."""


@dataclass(slots=True, frozen=True)
class SpTopic:
    """A parsed Sparkplug topic; ``group`` is empty for ``STATE``."""

    group: str
    kind: str
    node: str
    device: str | None = None

    @property
    def node_key(self) -> str:
        return f"{self.group}/{self.node}"


def topic(group: str, kind: str, node: str, device: str | None = None) -> str:
    """``spBv1.0/<group>/<kind>/<node>[/<device>]``."""
    base = f"{NAMESPACE}/{group}/{kind}/{node}"
    return f"{base}/{device}" if device is not None else base


def state_topic(host_id: str) -> str:
    """``spBv1.0/STATE/<host_id>``: where a host application announces itself (retained JSON)."""
    return f"{NAMESPACE}/STATE/{host_id}"


def host_online(payload: bytes) -> bool | None:
    """``online`` of a Sparkplug 3.0 host STATE payload; ``None`` if it is not one.

    An edge node may wait for its primary host to be online before publishing births.

    >>> host_online(b'{"online": true, "timestamp": 1}'), host_online(b'{"online": false}')
    (True, False)
    >>> host_online(b"ONLINE") is None
    True
    """
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    online = body.get("online") if isinstance(body, dict) else None
    return online if isinstance(online, bool) else None


def parse_topic(name: str) -> SpTopic:
    """Parse a ``spBv1.0/...`` topic; :class:`ValueError` naming what is wrong otherwise."""
    parts = name.split("/")
    if parts[0] != NAMESPACE:
        raise ValueError(f"topic {name!r} is not in the {NAMESPACE} namespace")
    if len(parts) == 3 and parts[1] == "STATE" and parts[2]:
        return SpTopic("", "STATE", parts[2])
    if len(parts) == 4 and parts[2] in NODE_KINDS and parts[1] and parts[3]:
        return SpTopic(parts[1], parts[2], parts[3])
    if len(parts) == 5 and parts[2] in DEVICE_KINDS and parts[1] and parts[3] and parts[4]:
        return SpTopic(parts[1], parts[2], parts[3], parts[4])
    raise ValueError(
        f"topic {name!r} is not a Sparkplug B topic: expected {NAMESPACE}/<group>/<N*>/<node> "
        f"or {NAMESPACE}/<group>/<D*>/<node>/<device>"
    )


def is_control(metric: str) -> bool:
    """``True`` for ``bdSeq`` and the ``Node Control/...``-style metrics that are not data.

    >>> is_control("Node Control/Rebirth"), is_control("bdSeq"), is_control("temp")
    (True, True, False)
    """
    return metric == BDSEQ or metric.startswith(CONTROL_PREFIXES)


def split_metric(asset: str, metric: str) -> tuple[str, str]:
    """(asset path, tag) of ``metric`` published by ``asset``; ``a/b/tag`` is tag of ``asset/a/b``."""
    head, sep, tag = metric.rpartition("/")
    return (f"{asset}/{head}" if sep and head else asset), tag


class AssetMap:
    """Sparkplug ``group/node[/device]`` -> asset path, by explicit entries, else by convention."""

    def __init__(self, explicit: dict[str, str]) -> None:
        self.explicit = dict(explicit)

    @classmethod
    def from_plant(cls, plant: Plant) -> AssetMap:
        """Explicit entries from assets with ``attributes.sparkplug = "<group>/<node>[/<device>]"``."""
        out: dict[str, str] = {}
        for asset in plant.assets():
            sp = asset.attributes.get("sparkplug")
            if isinstance(sp, str) and sp:
                out[sp] = asset.path
        return cls(out)

    def asset(self, group: str, node: str, device: str | None) -> str:
        key = f"{group}/{node}" if device is None else f"{group}/{node}/{device}"
        hit = self.explicit.get(key)
        if hit is not None:
            return hit
        if device is not None:
            base = self.explicit.get(f"{group}/{node}")
            if base is not None:
                return f"{base}/{device}"
        prefix = group.replace(".", "/")
        return f"{prefix}/{node}" if device is None else f"{prefix}/{node}/{device}"
