"""A control loop: recommendations, approval, constraints and the way setpoints leave.

Every move is a :class:`Recommendation` record (loop, asset, tag, old and new setpoint, reason,
constraints that applied, who approved it, whether and when it was applied and what the machine
answered). The loop keeps them in ``records`` (the audit trail of this loop) and hands each one
to the caller; persisting them in the platform's audit log is the caller's job.

Modes, per loop:

* ``off``: nothing is proposed;
* ``advisory`` (default): moves wait as ``pending`` until an operator calls
  :meth:`ControlLoop.approve` (or :meth:`~ControlLoop.reject`); only the newest pending move
  is kept, older ones are ``superseded``;
* ``closed``: an engineer :meth:`~ControlLoop.enable`\\ s the loop (recorded); moves are then
  applied at once, ``approved_by = "auto:<engineer>"``.

Setpoints leave through a :class:`SetpointSink`: anything with ``write(asset, tag, value,
reason)`` returning a result, or an awaitable of one (the platform's command path, a simulated
PLC). Limits are applied to every move before it reaches the sink, in every mode.

>>> class Plc:
...     def write(self, asset, tag, value, reason):
...         return {"ok": True, "value": value}
>>> loop = ControlLoop("wt", "line1/extruder", "screw_rpm", Limits(low=30, high=90, max_step=2),
...                    sink=Plc(), setpoint=60.0)
>>> rec = loop.propose(65.0, "feed-forward: density 0.62")
>>> rec.status, rec.new, rec.constraints
('pending', 62.0, ['rate limit 2 per move'])
>>> loop.approve(rec.id, "operator:ana").status, loop.setpoint
('applied', 62.0)
"""

from __future__ import annotations

import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from shopfloor.core.errors import CommandRefused, ConfigError

from .control import Limits

log = logging.getLogger(__name__)

Mode = Literal["off", "advisory", "closed"]


class SetpointSink(Protocol):
    """Where approved setpoints go: the command path (sync or async ``write``)."""

    def write(self, asset: str, tag: str, value: float, reason: str) -> Any | Awaitable[Any]: ...


@dataclass
class Recommendation:
    """One proposed setpoint move and what became of it (an audit record)."""

    id: int
    loop: str
    asset: str
    tag: str
    old: float | None
    new: float
    wanted: float
    reason: str
    mode: str
    ts_ns: int
    constraints: list[str] = field(default_factory=list)
    status: str = "pending"  # pending | applied | rejected | superseded | refused
    approved_by: str | None = None
    applied: bool = False
    applied_ns: int | None = None
    result: Any = None

    def to_dict(self) -> dict:
        return asdict(self)


class ControlLoop:
    """One manipulated setpoint of one asset, with its limits, mode and audit records."""

    def __init__(
        self,
        name: str,
        asset: str,
        tag: str,
        limits: Limits,
        sink: SetpointSink | None = None,
        setpoint: float | None = None,
        mode: Mode = "advisory",
        deadband: float = 0.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if mode not in ("off", "advisory", "closed"):
            raise ConfigError(f"loop {name}: mode {mode!r} must be off, advisory or closed")
        self.name, self.asset, self.tag, self.limits = name, asset, tag, limits
        self.sink, self.setpoint, self.mode, self.deadband = sink, setpoint, mode, deadband
        self.clock = clock
        self.records: list[Recommendation] = []
        self.enabled_by: str | None = None
        self._ids = itertools.count(1)

    # -- mode changes (recorded) -------------------------------------------------------------
    def enable(self, engineer: str) -> None:
        """Close the loop (moves apply without approval); recorded with the engineer's name."""
        if not engineer:
            raise ConfigError(f"loop {self.name}: closing the loop needs the engineer's name")
        self.mode, self.enabled_by = "closed", engineer
        log.info("loop %s closed by %s", self.name, engineer)
        self._note(f"loop closed by {engineer}", engineer)

    def disable(self, user: str, mode: Mode = "advisory") -> None:
        self.mode, self.enabled_by = mode, None
        log.info("loop %s set to %s by %s", self.name, mode, user)
        self._note(f"loop set to {mode} by {user}", user)

    def _note(self, text: str, user: str) -> None:
        sp = self.setpoint if self.setpoint is not None else float("nan")
        self.records.append(
            Recommendation(
                next(self._ids),
                self.name,
                self.asset,
                self.tag,
                self.setpoint,
                sp,
                sp,
                text,
                self.mode,
                self.clock(),
                status="mode",
                approved_by=user,
            )
        )

    # -- proposing and applying --------------------------------------------------------------
    @property
    def pending(self) -> list[Recommendation]:
        return [r for r in self.records if r.status == "pending"]

    def propose(self, wanted: float, reason: str) -> Recommendation | None:
        """Constrain a wanted setpoint into a recommendation; apply it when the loop is closed.

        Returns ``None`` when the loop is off or the move is within the deadband.
        """
        if self.mode == "off":
            return None
        new, notes = self.limits.apply(self.setpoint, float(wanted))
        if self.setpoint is not None and abs(new - self.setpoint) <= self.deadband:
            return None
        for old in self.pending:
            old.status = "superseded"
        rec = Recommendation(
            next(self._ids),
            self.name,
            self.asset,
            self.tag,
            self.setpoint,
            new,
            float(wanted),
            reason,
            self.mode,
            self.clock(),
            notes,
        )
        self.records.append(rec)
        if self.mode == "closed":
            self._apply(rec, f"auto:{self.enabled_by}")
        return rec

    async def apropose(self, wanted: float, reason: str) -> Recommendation | None:
        """:meth:`propose` for an async sink."""
        if self.mode != "closed":
            return self.propose(wanted, reason)
        self.mode = "advisory"
        try:
            rec = self.propose(wanted, reason)
        finally:
            self.mode = "closed"
        if rec is not None:
            rec.mode = "closed"
            await self._aapply(rec, f"auto:{self.enabled_by}")
        return rec

    def _find(self, rec_id: int) -> Recommendation:
        for rec in self.records:
            if rec.id == rec_id:
                if rec.status != "pending":
                    raise CommandRefused(f"loop {self.name}: recommendation {rec_id} is {rec.status}")
                return rec
        raise CommandRefused(f"loop {self.name}: no recommendation {rec_id}")

    def approve(self, rec_id: int, user: str) -> Recommendation:
        """An operator approves a pending recommendation: it is applied now."""
        rec = self._find(rec_id)
        self._apply(rec, user)
        return rec

    async def aapprove(self, rec_id: int, user: str) -> Recommendation:
        rec = self._find(rec_id)
        await self._aapply(rec, user)
        return rec

    def reject(self, rec_id: int, user: str) -> Recommendation:
        rec = self._find(rec_id)
        rec.status, rec.approved_by = "rejected", user
        return rec

    def _prepare(self, rec: Recommendation, user: str) -> None:
        if not user:
            raise CommandRefused(f"loop {self.name}: a setpoint change needs the approver's name")
        rec.approved_by = user
        # the setpoint may have moved since the proposal: re-apply the limits from where it is now
        rec.new, notes = self.limits.apply(self.setpoint, rec.wanted)
        rec.constraints = sorted(set(rec.constraints) | set(notes))

    def _done(self, rec: Recommendation, result: Any) -> None:
        rec.result = result
        if isinstance(result, dict) and result.get("ok") is False:
            rec.status = "refused"
            log.warning("loop %s: %s refused the setpoint %s: %s", self.name, self.asset, rec.new, result)
            return
        rec.status, rec.applied, rec.applied_ns = "applied", True, self.clock()
        self.setpoint = rec.new

    def _apply(self, rec: Recommendation, user: str) -> None:
        self._prepare(rec, user)
        result: Any = {"ok": True, "note": "no sink connected"}
        if self.sink is not None:
            try:
                result = self.sink.write(self.asset, self.tag, rec.new, rec.reason)
            except CommandRefused as err:
                result = {"ok": False, "error": str(err)}
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise ConfigError(f"loop {self.name}: the sink is async; use apropose/aapprove")
        self._done(rec, result)

    async def _aapply(self, rec: Recommendation, user: str) -> None:
        self._prepare(rec, user)
        result: Any = {"ok": True, "note": "no sink connected"}
        if self.sink is not None:
            try:
                result = self.sink.write(self.asset, self.tag, rec.new, rec.reason)
                if inspect.isawaitable(result):
                    result = await result
            except CommandRefused as err:
                result = {"ok": False, "error": str(err)}
        self._done(rec, result)
