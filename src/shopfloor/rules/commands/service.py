"""The command path: submit, approve, send, confirm; interlocked, audited, with a timeout.

:class:`CommandService` is what the API, the alarm actions and the closed control loops use:

- :meth:`~CommandService.submit`: interlocks first (a refusal is final and audited); a command
  marked critical (by an interlock entry, or by the caller) waits for :meth:`approve` by a
  second person (approver != requester); otherwise it is sent at once.
- sending re-checks the interlocks (the machine may have changed mode meanwhile), hands the
  command to the :class:`~.transport.Transport`, and waits at most ``commands.timeout_s``
  for a result: ``confirmed`` when the device answered ok and the value read back matches
  (within ``commands.tolerance``), else ``failed`` with a ``reason`` (``timeout``,
  ``readback``, ``device_refused``, ``device_unavailable``, ...).
- :meth:`write` is a ``SetpointSink`` for control loops: submit as user ``loop``; an interlock
  refusal raises :class:`~shopfloor.core.errors.CommandRefused`.

Every state change is saved with one audit-trail row (state store, migration 4), published
on the bus subject ``events`` as ``{"type": "command", ...}``, and passed to ``audit`` (the
security audit chain in the platform).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from fnmatch import fnmatchcase
from typing import Any

from ...bus.base import Bus, Subscription
from ...core.assets import Plant
from ...core.clock import NS, Clock, WallClock
from ...core.errors import BusClosed, CommandRefused, StoreError
from ...core.settings import CommandSettings
from ...store.state import StateStore
from . import store
from .interlocks import Interlocks, Latest
from .model import Command, CommandState, InterlockRefused, UnknownCommand
from .transport import Transport

log = logging.getLogger(__name__)
Audit = Callable[..., Awaitable[Any]]


class CommandService:
    """Setpoint commands for one plant; see the module docstring."""

    def __init__(
        self,
        plant: Plant,
        state: StateStore,
        transport: Transport,
        settings: CommandSettings | None = None,
        *,
        latest: Latest | None = None,
        bus: Bus | None = None,
        clock: Clock | None = None,
        audit: Audit | None = None,
        name: str = "commands",
    ) -> None:
        self.plant, self.state, self.transport = plant, state, transport
        self.settings = settings or CommandSettings()  # type: ignore[call-arg]
        self.interlocks = Interlocks(plant, self.settings.interlocks)
        self.latest, self.bus, self.audit, self.name = latest, bus, audit, name
        self.clock: Clock = clock or WallClock()
        self._pending: dict[str, Command] = {}  # awaiting approval
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sub: Subscription | None = None
        self._started = False
        self.counts: dict[str, int] = {s.value: 0 for s in CommandState}
        self.latency_ns: list[int] = []  # submit -> confirmed, newest last (bounded)
        self._audit_q: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._audit_task: asyncio.Task[None] | None = None
        self._deferred: dict[str, list[store.Trail]] = {}
        self._inflight: dict[str, Command] = {}  # submitted here and not final yet

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the transport; commands left open by a previous run are resolved."""
        now = self.clock.now_ns()
        for cmd in await store.open_commands(self.state):
            if (
                cmd.state is CommandState.REQUESTED
                and now - cmd.created_at < self.settings.approval_timeout_s * NS
            ):
                self._pending[cmd.id] = cmd
                continue
            why = "approval timed out" if cmd.state is CommandState.REQUESTED else "interrupted by a restart"
            await self._move(cmd, CommandState.FAILED, "system", reason="restart", error=why)
        await self.transport.start()
        if self.settings.actions and self.bus is not None:
            self._sub = self.bus.subscribe("events", f"{self.name}-actions", policy="block")
            self._spawn(self._follow_alarms())
        self._spawn(self._expire_loop())
        self._started = True

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._started:
            await self.transport.stop()
            self._started = False
        await self.flush_audit()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the API ------------------------------------------------------------------------------------

    async def submit(
        self,
        asset: str,
        tag: str,
        value: object,
        user: str,
        reason: str = "",
        *,
        critical: bool = False,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Request a setpoint write; the command as a dict (its final state unless it waits
        for approval, or ``wait`` is false)."""
        if not user or not user.strip():
            raise CommandRefused("a command needs the user who requests it")
        asset = asset.strip("/")
        now = self.clock.now_ns()
        shown = float(value) if isinstance(value, int | float) else 0.0
        cmd = Command.new(asset, tag, shown, user.strip(), reason=reason, now=now)
        cmd.critical = critical or self.interlocks.critical(asset, tag)
        try:
            cmd.value = await self.interlocks.check(asset, tag, value, self.latest, now)
        except InterlockRefused as err:
            await self._save(cmd, "", user, {"value": repr(value)}, defer=True)
            await self._move(cmd, CommandState.REFUSED, user, reason=err.reason, error=str(err))
            return cmd.as_dict()
        await self._save(cmd, "", cmd.requested_by, {"critical": cmd.critical}, defer=not cmd.critical)
        if cmd.critical:
            self._pending[cmd.id] = cmd
            return cmd.as_dict()
        note = "not critical: no second approval"
        await self._move(cmd, CommandState.APPROVED, cmd.requested_by, defer=True, note=note)
        task = self._spawn(self._send(cmd))
        if wait:
            await asyncio.shield(task)
        return cmd.as_dict()

    async def approve(
        self, command_id: str, user: str, comment: str = "", *, wait: bool = True
    ) -> dict[str, Any]:
        """The second person's approval of a critical command; then it is sent."""
        cmd = await self._awaiting(command_id)
        user = (user or "").strip()
        if not user:
            raise CommandRefused("an approval needs the user who approves")
        if user == cmd.requested_by:
            raise CommandRefused(
                f"command {command_id}: the requester ({user}) cannot approve it; a second person must"
            )
        self._pending.pop(cmd.id, None)
        cmd.approved_by = user
        await self._move(cmd, CommandState.APPROVED, user, note=comment)
        task = self._spawn(self._send(cmd))
        if wait:
            await asyncio.shield(task)
        return cmd.as_dict()

    async def reject(self, command_id: str, user: str, comment: str = "") -> dict[str, Any]:
        """The approver says no: the command ends refused."""
        cmd = await self._awaiting(command_id)
        if not (user or "").strip():
            raise CommandRefused("a rejection needs the user who rejects")
        self._pending.pop(cmd.id, None)
        await self._move(
            cmd, CommandState.REFUSED, user.strip(), reason="rejected", error=comment or "rejected"
        )
        return cmd.as_dict()

    async def write(self, asset: str, tag: str, value: float, reason: str) -> dict[str, Any]:
        """``SetpointSink`` for control loops: submit as user ``loop`` and wait for the result."""
        out = await self.submit(asset, tag, value, "loop", reason)
        if out["state"] == CommandState.REFUSED:
            raise InterlockRefused(out["result"].get("reason", "refused"), out["result"].get("error", ""))
        return {**out, "ok": out["state"] == CommandState.CONFIRMED}

    async def get(self, command_id: str) -> dict[str, Any]:
        cmd = self._inflight.get(command_id) or await store.get(self.state, command_id)
        if cmd is None:
            raise UnknownCommand(f"no command {command_id!r}")
        trail = await store.trail(self.state, command_id)
        trail += [
            {"ts": ts, "from": f, "to": t, "user": u, "detail": d}
            for ts, f, t, u, d in self._deferred.get(command_id, [])
        ]
        return {**cmd.as_dict(), "trail": trail}

    async def list(
        self, asset: str | None = None, state: list[str] | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return [c.as_dict() for c in await store.query(self.state, asset=asset, states=state, limit=limit)]

    def stats(self) -> dict[str, Any]:
        lat = sorted(self.latency_ns)
        p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6) if lat else (lambda q: None)
        return {
            "counts": dict(self.counts),
            "awaiting_approval": len(self._pending),
            "p50_ms": p(0.5),
            "p99_ms": p(0.99),
        }

    # -- internals ----------------------------------------------------------------------------------

    async def _awaiting(self, command_id: str) -> Command:
        cmd = self._pending.get(command_id)
        if cmd is not None:
            return cmd
        found = await store.get(self.state, command_id)
        if found is None:
            raise UnknownCommand(f"no command {command_id!r}")
        if found.state is CommandState.REQUESTED:  # requested through another process (production)
            return found
        raise CommandRefused(f"command {command_id} is {found.state.value}, not awaiting approval")

    async def _send(self, cmd: Command) -> None:
        now = self.clock.now_ns()
        try:
            cmd.value = await self.interlocks.check(cmd.asset, cmd.tag, cmd.value, self.latest, now)
        except InterlockRefused as err:  # the machine changed since the request
            await self._move(cmd, CommandState.REFUSED, "system", reason=err.reason, error=str(err))
            return
        self.interlocks.sent(cmd.asset, cmd.tag, cmd.value, now)
        await self._move(cmd, CommandState.SENT, "system")
        timeout = self.settings.timeout_s
        try:
            result = await asyncio.wait_for(self.transport.send(cmd), timeout)
        except TimeoutError:
            await self._move(
                cmd,
                CommandState.FAILED,
                "system",
                reason="timeout",
                error=f"no confirmed result within {timeout:g} s",
            )
            return
        if not result.get("ok"):
            await self._move(cmd, CommandState.FAILED, "system", **_pick(result))
            return
        rb = result.get("readback")
        if rb is not None:
            try:
                off = abs(float(rb) - cmd.value)
            except (TypeError, ValueError):
                off = float("inf")
            if off > self.settings.tolerance:
                await self._move(
                    cmd,
                    CommandState.FAILED,
                    "system",
                    reason="readback",
                    readback=rb,
                    error=f"read back {rb!r}, expected {cmd.value:g}",
                )
                return
        confirmation = "readback" if rb is not None else "device_ack"
        await self._move(cmd, CommandState.CONFIRMED, "system", readback=rb, confirmation=confirmation)
        self.latency_ns.append(self.clock.now_ns() - cmd.created_at)
        del self.latency_ns[:-10_000]

    async def _save(
        self, cmd: Command, from_state: str, user: str, detail: dict[str, Any], *, defer: bool = False
    ) -> None:
        """Persist a transition (with any deferred before it, in one transaction), then announce it.

        ``defer``: keep it for the next save of this command (requested + approved + sent of a
        command that needs no approval are written together, right before it is sent).
        """
        if cmd.final:
            self._inflight.pop(cmd.id, None)
        else:
            self._inflight[cmd.id] = cmd
        rows = self._deferred.setdefault(cmd.id, [])
        rows.append((cmd.updated_at, from_state, cmd.state.value, user, detail))
        if defer:
            return
        del self._deferred[cmd.id]
        try:
            await store.save(self.state, cmd, rows)
        except StoreError as err:  # the command still proceeds; the trail gap is logged loudly
            log.error("command %s: saving state %s failed: %s", cmd.id, cmd.state.value, err)
        events = []
        for ts, before, to, who, what in rows:
            self.counts[to] += 1
            events.append(
                {**cmd.as_dict(), "type": "command", "ts": ts, "from_state": before, "state": to, "user": who}
            )
            if self.audit is not None:  # the audit chain is written in order, off the command's path
                outcome = to if to in (CommandState.FAILED, CommandState.REFUSED) else "ok"
                target = f"{cmd.asset}/{cmd.tag}"
                self._audit_q.put_nowait((who, f"command.{to}", target, outcome, {"id": cmd.id, **what}))
        if self.audit is not None and (self._audit_task is None or self._audit_task.done()):
            self._audit_task = asyncio.ensure_future(self._audit_writer())
        if self.bus is not None:
            with contextlib.suppress(BusClosed):
                await self.bus.publish("events", events)

    async def _audit_writer(self) -> None:
        while not self._audit_q.empty():
            args = self._audit_q.get_nowait()
            try:
                assert self.audit is not None
                await self.audit(*args)
            except Exception:  # supervisor: the audit chain must never stop a command
                log.exception("command audit record %s %s could not be written", args[1], args[2])

    async def flush_audit(self) -> None:
        """Wait until every audit record queued so far is written."""
        while self._audit_task is not None and not self._audit_task.done():
            await asyncio.shield(self._audit_task)

    async def _move(
        self, cmd: Command, to: CommandState, user: str, *, defer: bool = False, **detail: Any
    ) -> None:
        before = cmd.state.value
        cmd.state = to
        cmd.updated_at = max(self.clock.now_ns(), cmd.updated_at)
        detail = {k: v for k, v in detail.items() if v not in (None, "")}
        if to in (CommandState.CONFIRMED, CommandState.FAILED, CommandState.REFUSED):
            cmd.result = {k: v for k, v in detail.items() if k != "note"}
        log.log(
            logging.INFO if to is not CommandState.FAILED else logging.WARNING,
            "command %s %s/%s=%g: %s -> %s %s",
            cmd.id[:8],
            cmd.asset,
            cmd.tag,
            cmd.value,
            before,
            to.value,
            detail or "",
        )
        await self._save(cmd, before, user, detail, defer=defer)

    async def _expire_loop(self, every_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            limit = self.clock.now_ns() - int(self.settings.approval_timeout_s * NS)
            for cmd in [c for c in self._pending.values() if c.created_at < limit]:
                self._pending.pop(cmd.id, None)
                await self._move(
                    cmd,
                    CommandState.FAILED,
                    "system",
                    reason="approval_timeout",
                    error=f"not approved within {self.settings.approval_timeout_s:g} s",
                )

    async def _follow_alarms(self) -> None:
        """``commands.actions``: alarm transitions that issue commands."""
        assert self._sub is not None
        actions = self.settings.actions
        async for batch in self._sub:
            for e in batch:
                if not isinstance(e, dict) or e.get("type") != "alarm":
                    continue
                for a in actions:
                    if a.rule == e.get("rule_id") and a.event == e.get("event"):
                        asset = a.asset or str(e.get("asset"))
                        if a.asset and any(c in a.asset for c in "*?["):
                            if not fnmatchcase(str(e.get("asset")), a.asset):
                                continue
                            asset = str(e.get("asset"))
                        why = f"alarm {e.get('alarm_id')} {e.get('event')}"
                        self._spawn(self.submit(asset, a.tag, a.value, f"rule:{a.rule}", why))


def _pick(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "reason": result.get("reason") or "device",
        "error": result.get("error") or "",
        "readback": result.get("readback"),
    }
