"""The simulated PLCs as a real OPC UA server (asyncua).

Address space: ``Objects/<site>/<area>/<line>/<machine>/<tag>``, each tag a variable with the
string node id ``<asset path>/<tag>`` in namespace ``urn:shopfloor:sim`` (see
:mod:`shopfloor.sim.registers`). Variables carry the latest simulated value with its source
timestamp. Setpoints are writable; every client write is checked by
:meth:`Simulation.check_write` and refused with a status code, never clamped:

* ``BadNotWritable`` for read-only variables,
* ``BadOutOfRange`` outside the engineering limits,
* ``BadTypeMismatch`` for a value of the wrong type.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from asyncua import Node, Server, ua

from ..core.clock import to_datetime
from ..core.errors import BrokerError
from ..core.sample import Sample, Value
from .registers import OPCUA_NAMESPACE, node_id
from .simulation import Simulation, WriteRefused

log = logging.getLogger(__name__)

VARIANT = {
    "float": ua.VariantType.Double,
    "int": ua.VariantType.Int64,
    "bool": ua.VariantType.Boolean,
    "str": ua.VariantType.String,
}
INITIAL: dict[str, Value] = {"float": 0.0, "int": 0, "bool": False, "str": ""}
REFUSAL = {
    "read_only": ua.StatusCodes.BadNotWritable,
    "unknown_tag": ua.StatusCodes.BadNotWritable,
    "unknown_asset": ua.StatusCodes.BadNodeIdUnknown,
    "out_of_range": ua.StatusCodes.BadOutOfRange,
    "wrong_type": ua.StatusCodes.BadTypeMismatch,
}


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host``."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class OpcUaEndpoint:
    """An OPC UA server serving a :class:`Simulation` (start/stop inside a running loop)."""

    def __init__(self, sim: Simulation, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.host = host
        self.port = port or free_port(host)
        self.url = f"opc.tcp://{host}:{self.port}/shopfloor/sim"
        self.server: Server | None = None
        self.ns = 0
        self.nodes: dict[tuple[str, str], tuple[ua.NodeId, ua.VariantType]] = {}
        self._targets: dict[ua.NodeId, tuple[str, str, bool]] = {}

    async def start(self) -> int:
        """Build the address space and start listening; returns the port."""
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("shopfloor simulated plant")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.ns = await server.register_namespace(OPCUA_NAMESPACE)
        folders: dict[str, Node] = {}
        objects = server.nodes.objects
        for path, machine in self.sim.machines.items():
            parent = objects
            segs = path.split("/")
            for depth in range(1, len(segs) + 1):
                sub = "/".join(segs[:depth])
                if sub not in folders:
                    folders[sub] = await parent.add_folder(
                        ua.NodeId(sub, self.ns),  # type: ignore[arg-type]
                        ua.QualifiedName(segs[depth - 1], self.ns),
                    )
                parent = folders[sub]
            for tag in machine.tags:
                nid = ua.NodeId(node_id(path, tag.name), self.ns)  # type: ignore[arg-type]
                vt = VARIANT[tag.type]
                var = await parent.add_variable(
                    nid, ua.QualifiedName(tag.name, self.ns), INITIAL[tag.type], varianttype=vt
                )
                if tag.description:
                    await var.write_attribute(
                        ua.AttributeIds.Description,
                        ua.DataValue(ua.Variant(ua.LocalizedText(tag.description))),
                    )
                if tag.writable:
                    await var.set_writable()
                self.nodes[(path, tag.name)] = (nid, vt)
                self._targets[nid] = (path, tag.name, tag.writable)
        self._wrap_writes(server)
        try:
            await server.start()
        except OSError as err:
            raise BrokerError(f"cannot start OPC UA server on {self.url}: {err}") from err
        self.server = server
        log.info("simulated PLCs on %s (%d variables)", self.url, len(self.nodes))
        return self.port

    def _wrap_writes(self, server: Server) -> None:
        """Route client writes of our variables through the simulation's PLC checks."""
        service = server.iserver.attribute_service
        original: Callable[..., Awaitable[list[ua.StatusCode]]] = service.write

        async def write(params: ua.WriteParameters, user: Any = None, **kw: Any) -> list[ua.StatusCode]:
            results: list[ua.StatusCode | None] = []
            passed = []
            for wv in params.NodesToWrite:
                target = self._targets.get(wv.NodeId)
                if target is None or wv.AttributeId != ua.AttributeIds.Value:
                    results.append(None)
                    passed.append(wv)
                    continue
                asset, tag, _ = target
                value = wv.Value.Value.Value if wv.Value and wv.Value.Value else None
                try:
                    typed = self.sim.check_write(asset, tag, value)
                except WriteRefused as err:
                    log.info("opc ua: refused %s", err)
                    code = REFUSAL.get(err.reason, ua.StatusCodes.BadNotWritable)
                    results.append(ua.StatusCode(code))  # type: ignore[arg-type]
                    continue
                self.sim.write(asset, tag, typed)
                results.append(None)
                passed.append(wv)
            done: list[ua.StatusCode] = []
            if passed:
                sub = ua.WriteParameters(NodesToWrite=passed)
                done = await (original(sub, user, **kw) if user is not None else original(sub, **kw))
            it = iter(done)
            return [r if r is not None else next(it) for r in results]

        service.write = write  # type: ignore[method-assign]

    async def update(self, samples: list[Sample]) -> None:
        """Write the newest samples into the address space (server side, no checks)."""
        server = self.server
        if server is None:
            return
        for s in samples:
            hit = self.nodes.get((s.asset, s.tag))
            if hit is None:
                continue
            nid, vt = hit
            dv = ua.DataValue(ua.Variant(s.value, vt), SourceTimestamp=to_datetime(s.ts))  # type: ignore[arg-type]
            await server.write_attribute_value(nid, dv)

    async def stop(self) -> None:
        """Stop the server."""
        if self.server is not None:
            await self.server.stop()
            self.server = None
