"""How a command reaches a machine: a :class:`Transport` sends it and answers with a result.

A result is a dict: ``ok`` (bool), ``readback`` (the value read back from the machine, or
None when the device only acknowledged), ``reason`` (a short code when not ok) and ``error``.
The service wraps :meth:`Transport.send` in the command timeout.

- :class:`OpcUaTransport`: straight to the PLC's OPC UA server: write the setpoint node,
  then read it back (the simulated plant serves one; node ids from a template).
- :class:`~.mqtt.MqttTransport`: the MQTT command topic of the edge agent (or the simulated
  plant), see docs/commands.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from ...core.assets import Plant
from ...core.errors import ConnectorError, DeviceUnavailable, ProtocolError
from .model import Command

log = logging.getLogger(__name__)


class Transport(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, cmd: Command) -> dict[str, Any]: ...


class NoTransport:
    """``commands.transport = "none"``: every command fails, saying why."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, cmd: Command) -> dict[str, Any]:
        return {
            "ok": False,
            "reason": "no_transport",
            "error": "commands.transport is 'none'",
            "readback": None,
        }


def typed(plant: Plant, asset: str, tag: str, value: float) -> bool | int | float:
    """The value in the tag's type (what a PLC variable of that type takes)."""
    spec = plant.get_tag(asset, tag)
    kind = spec.type if spec is not None else "float"
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    return float(value)


class OpcUaTransport:
    """Write and read back setpoint nodes on one OPC UA server (asyncua via the connector)."""

    def __init__(
        self, plant: Plant, url: str, namespace_uri: str | None, node_template: str, name: str = "commands"
    ) -> None:
        from ...connectors.opcua.client import OpcUaClient
        from ...connectors.opcua.config import OpcUaNode, OpcUaServer

        self.plant = plant
        nodes = [
            OpcUaNode(
                node_id=node_template.format(asset=a.path, tag=t.name),
                asset=a.path,
                tag=t.name,
                unit=t.unit,
                writable=True,
            )
            for a, t in plant.tags()
            if t.writable
        ]
        config = OpcUaServer(name=name, url=url, namespace_uri=namespace_uri, nodes=nodes)  # type: ignore[call-arg]
        self.client = OpcUaClient(config, on_values=lambda _values: None)
        self.url = url

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        await self.client.stop()

    async def send(self, cmd: Command) -> dict[str, Any]:
        key = (cmd.asset, cmd.tag)
        value = typed(self.plant, cmd.asset, cmd.tag, cmd.value)
        try:
            await self.client.connected.wait()
            await self.client.write(key, value)
            readback = await self.client.read(key)
        except ProtocolError as err:
            return {"ok": False, "reason": "device_refused", "error": str(err), "readback": None}
        except DeviceUnavailable as err:
            return {"ok": False, "reason": "device_unavailable", "error": str(err), "readback": None}
        except ConnectorError as err:  # pragma: no cover - other connector failures
            return {"ok": False, "reason": "device", "error": str(err), "readback": None}
        except asyncio.CancelledError:
            raise
        return {"ok": True, "readback": readback, "reason": "", "error": ""}
