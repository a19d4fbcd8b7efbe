"""``uplink.format = "sparkplug"``: the agent as a Sparkplug B edge node over the same uplink.

The edge node is :class:`shopfloor.connectors.sparkplug.node.EdgeNode` (group
``uplink.sparkplug_group``, node id = ``agent_id``). Assets map to Sparkplug ids by the
platform host's convention: an asset ``<group with / for .>/<agent_id>/<device>[/<sub>...]``
is device ``<device>``, its tags metrics named ``[<sub>/...]<tag>``; the asset
``<group path>/<agent_id>`` itself holds node metrics. Another asset is a configuration error.

Per connection: a new NDEATH (next bdSeq) is the MQTT will, then NBIRTH and one DBIRTH per
device, then the buffer is drained in sequence order as DDATA/NDATA with every value's original
timestamp (``is_historical`` for values older than ``HISTORICAL_S``). A metric seen for the first
time after a birth is defined and a rebirth is published before its data. An NCMD
``Node Control/Rebirth`` is answered with fresh births. Data goes out with QoS 1 (Sparkplug asks
for QoS 0) so that rows leave the buffer only on PUBACK; after a reconnect unacknowledged rows are
sent again, so with Sparkplug the effect is **at least once** (the JSON uplink has per-row sequence
numbers for exactly once; Sparkplug's 0-255 ``seq`` cannot carry that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from ..connectors.sparkplug.codec import DataType
from ..connectors.sparkplug.node import EdgeNode
from ..core.errors import BrokerError, ConfigError, ConnectorError, IngestError, StoreError
from ..core.tasks import cancel_and_wait
from .buffer import Buffer, Record
from .uplink import Acker, Uplink

log = logging.getLogger(__name__)
HISTORICAL_S = 5.0
_TYPES = {bool: DataType.Boolean, int: DataType.Int64, float: DataType.Double, str: DataType.String}


def sparkplug_ids(group: str, node: str, asset: str, tag: str) -> tuple[str | None, str]:
    """(device id or None, metric name) of an asset's tag; :class:`ConfigError` if unmappable.

    >>> sparkplug_ids("riverside.converting", "line1", "riverside/converting/line1/cutter", "force")
    ('cutter', 'force')
    >>> sparkplug_ids("riverside.converting", "line1", "riverside/converting/line1/cutter/knife", "temp")
    ('cutter', 'knife/temp')
    >>> sparkplug_ids("riverside.converting", "line1", "riverside/converting/line1", "uptime")
    (None, 'uptime')
    """
    base = group.replace(".", "/") + "/" + node
    if asset == base:
        return None, tag
    if not asset.startswith(base + "/"):
        raise ConfigError(
            f"asset {asset!r} is not under {base!r}: with uplink.format = 'sparkplug' every asset must be "
            f"<sparkplug_group path>/<agent_id>/<device>[/...]"
        )
    device, *sub = asset[len(base) + 1 :].split("/")
    return device, "/".join([*sub, tag])


class SparkplugLink:
    """Drop-in for :class:`~shopfloor.edge.uplink.Forwarder` speaking Sparkplug B."""

    def __init__(self, buffer: Buffer, uplink: Uplink, group: str, node_id: str, batch_rows: int) -> None:
        self.buffer = buffer
        self.uplink = uplink
        self.node = EdgeNode(group, node_id)
        self.group = group
        self.node_id = node_id
        self.batch_rows = batch_rows
        self._ids: dict[tuple[str, str], tuple[str | None, str]] = {}
        self.sent_rows = 0
        self.sent_batches = 0
        self.acked_rows = 0
        self.births = 0
        self.rejected = 0
        self.acker = Acker(buffer)
        self._task: asyncio.Task[None] | None = None

    # -- session ------------------------------------------------------------------------------

    def will(self) -> tuple[str, bytes]:
        """Called before every connect: the NDEATH carrying the new bdSeq."""
        return self.node.will()

    def command_topics(self) -> list[str]:
        return [f"spBv1.0/{self.group}/NCMD/{self.node_id}", f"spBv1.0/{self.group}/DCMD/{self.node_id}/#"]

    def on_message(self, topic: str, payload: bytes) -> None:
        try:
            cmd = self.node.command(topic, payload)
        except IngestError as err:
            log.warning("Sparkplug command on %r rejected: %s", topic, err)
            return
        if cmd.rebirth:
            self._publish_all(cmd.replies)
            self.births += 1
        if cmd.writes:
            log.info("Sparkplug writes %s ignored: setpoints go through the command topic", cmd.writes)

    def define(self, asset: str, tag: str, value: Any) -> tuple[str | None, str]:
        key = (asset, tag)
        ids = self._ids.get(key)
        if ids is None:
            ids = sparkplug_ids(self.group, self.node_id, asset, tag)
            self.node.define(ids[1], _TYPES.get(type(value), DataType.Double), device=ids[0])
            self._ids[key] = ids
        return ids

    def _publish_all(self, messages: list[tuple[str, bytes]]) -> list[int]:
        return [self.uplink.publish(t, p, qos=1) for t, p in messages]

    # -- forwarding ---------------------------------------------------------------------------

    def kick(self) -> None:
        self.uplink.changed.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="edge-sparkplug")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self.acker.wait()
        with contextlib.suppress(BrokerError, ConnectorError):
            if self.node.born:
                self._publish_all([self.node.death()])

    async def _run(self) -> None:
        """Supervisor: a buffer error (disk) is logged and retried; rows stay in the buffer."""
        while True:
            try:
                await self._drain()
            except StoreError as err:
                log.error("forwarding paused: %s (retrying in 1 s)", err)
                await asyncio.sleep(1.0)

    async def _drain(self) -> None:
        up = self.uplink
        window = up.settings.window
        while True:
            await up.connected.wait()
            gen = up.generation
            try:
                self._publish_all(self.node.birth())
            except BrokerError:
                continue
            self.births += 1
            cursor = 0
            inflight: deque[tuple[set[int], int, int]] = deque()
            acked: set[int] = set()
            while up.connected.is_set() and up.generation == gen:
                up.changed.clear()
                acked |= up.take_acks()
                done = 0
                while inflight and inflight[0][0] <= acked:
                    mids, last, n = inflight.popleft()
                    acked -= mids
                    done = last
                    self.acked_rows += n
                if done:
                    self.acker.ack(done)
                while len(inflight) < window:
                    records = self.buffer.read_recent(cursor, self.batch_rows)
                    if records is None:  # older than the in-memory tail: read the file
                        records = await asyncio.to_thread(self.buffer.read, cursor, self.batch_rows)
                    if not records:
                        break
                    try:
                        mids = self._send(records)
                    except BrokerError:
                        break
                    cursor = records[-1].seq
                    inflight.append((mids, cursor, len(records)))
                    self.sent_rows += len(records)
                    self.sent_batches += 1
                if not up.changed.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(up.changed.wait(), 1.0)

    def _send(self, records: list[Record]) -> set[int]:
        by_device: dict[str | None, list[tuple[str, Any, int]]] = {}
        old = time.time_ns() - int(HISTORICAL_S * 1e9)
        historical: dict[str | None, bool] = {}
        for r in records:
            try:
                device, metric = self.define(r.asset, r.tag, r.value)
            except (ConfigError, ValueError) as err:
                self.rejected += 1
                log.warning("row %s/%s not sent over Sparkplug: %s", r.asset, r.tag, err)
                continue
            by_device.setdefault(device, []).append((metric, r.value, r.ts // 1_000_000))
            historical[device] = historical.get(device, False) or r.ts < old
        mids: set[int] = set()
        if self.node.needs_rebirth:
            mids.update(self._publish_all(self.node.birth()))
            self.births += 1
        for device, items in by_device.items():
            try:
                t, p = self.node.data(items, device=device, historical=historical[device])
            except IngestError as err:  # a value that does not fit its metric's datatype
                self.rejected += len(items)
                log.warning("Sparkplug data for %s not sent: %s", device or "node", err)
                continue
            mids.add(self.uplink.publish(t, p, qos=1))
        return mids

    def stats(self) -> dict[str, Any]:
        return {
            "sent_rows": self.sent_rows,
            "sent_batches": self.sent_batches,
            "acked_rows": self.acked_rows,
            "births": self.births,
            "rejected": self.rejected,
            "bd_seq": self.node.bd_seq,
        }
