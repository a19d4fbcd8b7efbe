"""An OPC UA server (asyncua) exposing the asset model and live values to SCADA and MES clients.

Address space, namespace ``urn:shopfloor:plant``::

    Objects/
      <plant name>/                      folder, node id "plant"
        <site>/<area>/<line>/<machine>/  one object per asset, node id = its asset path
          <tag>                          variable, node id "<asset path>/<tag>", read-only
          Kind, Level, attributes...     properties of the asset

Variables have the tag's description and unit (as ``EngineeringUnits`` text in the description
and a ``Unit`` property) and the latest value with its source timestamp and OPC quality
(good, uncertain, bad). Clients may browse and read (and subscribe); writes are refused
(``BadNotWritable``): commands to machines go through the platform's approved command path.

:meth:`PlantServer.update` writes new samples into the address space; :meth:`PlantServer.follow`
copies a store's latest values every ``period_s`` (what ``shopfloor interop opcua`` runs).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable
from typing import Any

from asyncua import Node, Server, ua

from ..core.assets import Plant
from ..core.clock import to_datetime
from ..core.errors import BrokerError
from ..core.sample import Quality, Sample

log = logging.getLogger(__name__)

NAMESPACE = "urn:shopfloor:plant"
VARIANT = {
    "float": ua.VariantType.Double,
    "int": ua.VariantType.Int64,
    "bool": ua.VariantType.Boolean,
    "str": ua.VariantType.String,
}
INITIAL: dict[str, Any] = {"float": 0.0, "int": 0, "bool": False, "str": ""}
STATUS = {
    Quality.GOOD: ua.StatusCodes.Good,
    Quality.UNCERTAIN: ua.StatusCodes.Uncertain,
    Quality.BAD: ua.StatusCodes.Bad,
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class PlantServer:
    """Serve a :class:`Plant` over OPC UA (start/stop inside a running event loop)."""

    def __init__(self, plant: Plant, host: str = "127.0.0.1", port: int = 0) -> None:
        self.plant = plant
        self.host = host
        self.port = port or free_port(host)
        self.url = f"opc.tcp://{host}:{self.port}/shopfloor"
        self.server: Server | None = None
        self.ns = 0
        self.nodes: dict[tuple[str, str], tuple[ua.NodeId, ua.VariantType, str]] = {}
        self.updates = 0
        self.skipped = 0

    async def start(self) -> int:
        """Build the address space and listen; returns the port (BrokerError if it cannot)."""
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name(f"shopfloor: {self.plant.name}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.ns = await server.register_namespace(NAMESPACE)
        root = await server.nodes.objects.add_folder(
            ua.NodeId("plant", self.ns),  # type: ignore[arg-type]
            ua.QualifiedName(self.plant.name, self.ns),
        )
        for site in self.plant.roots():
            await self._add_asset(root, site.path)
        try:
            await server.start()
        except OSError as err:
            raise BrokerError(f"cannot start OPC UA server on {self.url}: {err}") from err
        self.server = server
        log.info("OPC UA plant server on %s (%d variables)", self.url, len(self.nodes))
        return self.port

    async def _add_asset(self, parent: Node, path: str) -> None:
        asset = self.plant.asset(path)
        node = await parent.add_object(
            ua.NodeId(path, self.ns),  # type: ignore[arg-type]
            ua.QualifiedName(asset.id, self.ns),
        )
        await node.write_attribute(
            ua.AttributeIds.DisplayName, ua.DataValue(ua.Variant(ua.LocalizedText(asset.name)))
        )
        props: dict[str, Any] = {
            "Kind": asset.kind,
            "Level": asset.level.value if asset.level else "",
            "Description": asset.description,
        }
        props.update({k: v for k, v in asset.attributes.items() if isinstance(v, bool | int | float | str)})
        for key, value in props.items():
            await node.add_property(
                ua.NodeId(f"{path}#{key}", self.ns),  # type: ignore[arg-type]
                ua.QualifiedName(key, self.ns),
                value,
            )
        for tag in asset.tags:
            nid = ua.NodeId(f"{path}/{tag.name}", self.ns)  # type: ignore[arg-type]
            vt = VARIANT[tag.type]
            var = await node.add_variable(
                nid, ua.QualifiedName(tag.name, self.ns), INITIAL[tag.type], varianttype=vt
            )
            text = tag.description + (f" [{tag.unit}]" if tag.unit else "")
            await var.write_attribute(
                ua.AttributeIds.Description, ua.DataValue(ua.Variant(ua.LocalizedText(text)))
            )
            await var.add_property(
                ua.NodeId(f"{path}/{tag.name}#Unit", self.ns),  # type: ignore[arg-type]
                ua.QualifiedName("Unit", self.ns),
                tag.unit,
            )
            # no value until the first sample: quality "waiting for initial data"
            await var.write_value(
                ua.DataValue(
                    ua.Variant(INITIAL[tag.type], vt),
                    StatusCode=ua.StatusCode(ua.StatusCodes.UncertainInitialValue),
                )
            )
            self.nodes[(path, tag.name)] = (nid, vt, tag.type)
        for child in self.plant.children(path):
            await self._add_asset(node, child.path)

    async def update(self, samples: Iterable[Sample]) -> int:
        """Write samples into the address space; returns how many were written.

        Samples of unknown tags, or whose value does not fit the tag's type, are skipped and
        counted in ``skipped`` (the store keeps them; this is a view).
        """
        server = self.server
        if server is None:
            return 0
        n = 0
        for s in samples:
            hit = self.nodes.get((s.asset, s.tag))
            if hit is None:
                self.skipped += 1
                continue
            nid, vt, kind = hit
            value = s.value
            if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
                value = float(value)
            elif kind == "int" and isinstance(value, float) and value.is_integer():
                value = int(value)
            elif not isinstance(value, type(INITIAL[kind])) or (kind == "int" and isinstance(value, bool)):
                self.skipped += 1
                continue
            dv = ua.DataValue(
                ua.Variant(value, vt),
                StatusCode=ua.StatusCode(STATUS.get(Quality(int(s.quality)), ua.StatusCodes.Bad)),
                SourceTimestamp=to_datetime(s.ts),
            )
            await server.write_attribute_value(nid, dv)
            n += 1
        self.updates += n
        return n

    async def follow(self, store: Any, period_s: float = 1.0, stop: asyncio.Event | None = None) -> None:
        """Copy the store's latest values into the address space until ``stop`` is set."""
        stop = stop or asyncio.Event()
        seen: dict[tuple[str, str], int] = {}
        while not stop.is_set():
            fresh = [s for s in await store.latest() if seen.get((s.asset, s.tag)) != s.ts]
            for s in fresh:
                seen[(s.asset, s.tag)] = s.ts
            await self.update(fresh)
            try:
                await asyncio.wait_for(stop.wait(), period_s)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


class ApiLatest:
    """Latest values of a running platform over its REST API (``GET /api/v1/latest``).

    Has the one method :meth:`PlantServer.follow` needs; connection errors raise
    :class:`~shopfloor.core.errors.ConnectorError` naming the URL.
    """

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/api/v1/latest"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout_s = timeout_s

    async def latest(self) -> list[Sample]:
        import httpx

        from ..core.errors import ConnectorError

        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                r = await client.get(self.url, headers=self.headers)
        except httpx.HTTPError as err:
            raise ConnectorError(f"cannot reach {self.url}: {err}") from err
        if r.status_code != 200:
            raise ConnectorError(f"{self.url} answered HTTP {r.status_code}: {r.text[:200]}")
        return [
            Sample(d["asset"], d["tag"], int(d["ts"]), d["value"], Quality.parse(int(d.get("quality", 192))))
            for d in r.json()
        ]
