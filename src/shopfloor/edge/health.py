"""Agent health: per-connector state, last error and counters, as a dict and as Prometheus metrics.

>>> h = Health("gw1")
>>> c = h.connector("plc1", "modbus")
>>> c.fail("timeout"); c.count("reads", 3)
>>> snap = h.snapshot()
>>> snap["connectors"]["plc1"]["state"], snap["connectors"]["plc1"]["last_error"], snap["ok"]
('unavailable', 'timeout', False)
>>> from prometheus_client import generate_latest
>>> line = b'shopfloor_edge_connector_up{agent="gw1",connector="plc1",kind="modbus"} 0.0'
>>> line in generate_latest(h.registry)
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


@dataclass(slots=True)
class ConnectorHealth:
    """State of one connector: ``connecting``, ``connected`` or ``unavailable``."""

    name: str
    kind: str
    state: str = "connecting"
    last_error: str | None = None
    last_error_at: float | None = None
    since: float = field(default_factory=time.time)
    counters: dict[str, int] = field(default_factory=dict)

    def ok(self) -> None:
        if self.state != "connected":
            self.state = "connected"
            self.since = time.time()

    def fail(self, error: str) -> None:
        self.last_error = error
        self.last_error_at = time.time()
        self.count("errors")
        if self.state != "unavailable":
            self.state = "unavailable"
            self.since = time.time()

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "state": self.state,
            "since": self.since,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "counters": dict(self.counters),
        }


class Health:
    """Registry of connector health plus agent-wide counters and gauges (``extra`` callbacks)."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.connectors: dict[str, ConnectorHealth] = {}
        self.counters: dict[str, int] = {}
        self.sections: dict[str, Callable[[], dict[str, Any]]] = {}
        self.alarms: dict[str, str] = {}
        self.registry = CollectorRegistry()
        self.registry.register(_Collector(self))  # type: ignore[arg-type]

    def connector(self, name: str, kind: str) -> ConnectorHealth:
        c = self.connectors.get(name)
        if c is None:
            c = self.connectors[name] = ConnectorHealth(name, kind)
        return c

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def snapshot(self) -> dict[str, Any]:
        sections = {k: fn() for k, fn in self.sections.items()}
        ok = all(c.state == "connected" for c in self.connectors.values()) and not self.alarms
        return {
            "agent": self.agent,
            "ts": time.time_ns(),
            "ok": ok,
            "alarms": dict(self.alarms),
            "connectors": {n: c.as_dict() for n, c in self.connectors.items()},
            "counters": dict(self.counters),
            **sections,
        }


class _Collector:
    def __init__(self, health: Health) -> None:
        self.health = health

    def collect(self) -> Iterator[Any]:
        h = self.health
        up = GaugeMetricFamily(
            "shopfloor_edge_connector_up",
            "1 if the connector is connected",
            labels=["agent", "connector", "kind"],
        )
        events = CounterMetricFamily(
            "shopfloor_edge_connector_events",
            "Connector counters",
            labels=["agent", "connector", "kind", "event"],
        )
        for c in h.connectors.values():
            up.add_metric([h.agent, c.name, c.kind], 1.0 if c.state == "connected" else 0.0)
            for k, v in c.counters.items():
                events.add_metric([h.agent, c.name, c.kind, k], v)
        yield up
        yield events
        agent = CounterMetricFamily("shopfloor_edge_events", "Agent counters", labels=["agent", "event"])
        for k, v in h.counters.items():
            agent.add_metric([h.agent, k], v)
        yield agent
        gauges = GaugeMetricFamily(
            "shopfloor_edge_state", "Agent gauges", labels=["agent", "section", "name"]
        )
        for section, fn in h.sections.items():
            for k, v in fn().items():
                if isinstance(v, bool | int | float) and v is not None:
                    gauges.add_metric([h.agent, section, k], float(v))
        yield gauges
        alarm = GaugeMetricFamily(
            "shopfloor_edge_alarm", "1 while an alarm is active", labels=["agent", "alarm"]
        )
        for name in h.alarms:
            alarm.add_metric([h.agent, name], 1.0)
        yield alarm
