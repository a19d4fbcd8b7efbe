"""OT behaviour monitoring: what devices and users do that they should not, as security events.

Each ``observe_*`` call returns the :class:`SecurityEvent` records it raised (and keeps the
recent ones in :attr:`BehaviourMonitor.events`); ``on_event`` callbacks (the platform: log and
audit) see each one. Detectors, each with the evidence a person needs to judge it:

- ``unknown_device``: a client connects with a name the registry does not know;
- ``topic_violation``: a device publishes or subscribes outside its own subtree, or uses
  revoked credentials;
- ``rate_spike``: a source sends far more messages per window than its learnt baseline;
- ``impossible_value``: below absolute zero, far outside the tag's range, or a jump faster than
  the process can move;
- ``replay`` / ``out_of_order``: a sequence number seen before, or going backwards (Sparkplug's
  0-255 wrap understood);
- ``off_hours_command``: a command to a machine outside working hours.

>>> m = BehaviourMonitor(working_hours="06:00-22:00", tz="UTC")
>>> [e.kind for e in m.observe_sequence("gw1", 5)], [e.kind for e in m.observe_sequence("gw1", 5)]
([], ['replay'])
>>> [e.kind for e in m.observe_command("eve", "mill/pm1/speed", ts_ns=1_700_000_000 * 10**9)]  # 22:13 UTC
['off_hours_command']
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

NS = 1_000_000_000
ABSOLUTE_ZERO = {"K": 0.0, "kelvin": 0.0, "degC": -273.15, "°C": -273.15, "degF": -459.67, "°F": -459.67}


@dataclass(frozen=True)
class SecurityEvent:
    kind: str
    severity: str  # low | medium | high | critical
    ts: int
    subject: str  # device, source, asset/tag or user
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "ts": self.ts,
            "subject": self.subject,
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass
class _Rate:
    window_start: float
    count: int = 0
    baseline: float | None = None
    windows: int = 0


@dataclass
class _Seq:
    last: int
    recent: deque[int]


class BehaviourMonitor:
    """Streaming detectors over messages, samples, sequence numbers and commands (no I/O)."""

    def __init__(
        self,
        *,
        rate_window_s: float = 10.0,
        rate_factor: float = 5.0,
        rate_min_count: int = 50,
        rate_warmup_windows: int = 3,
        impossible_spans: float = 1.0,
        max_slew_spans_per_s: float = 10.0,
        working_hours: str = "06:00-22:00",
        tz: str | None = None,
        keep: int = 1000,
    ) -> None:
        self.rate_window_s = rate_window_s
        self.rate_factor = rate_factor
        self.rate_min_count = rate_min_count
        self.rate_warmup_windows = rate_warmup_windows
        self.impossible_spans = impossible_spans
        self.max_slew = max_slew_spans_per_s
        start, end = working_hours.split("-")
        self.work_start = dt.time.fromisoformat(start)
        self.work_end = dt.time.fromisoformat(end)
        self.tz = ZoneInfo(tz) if tz else None
        self.events: deque[SecurityEvent] = deque(maxlen=keep)
        self.counts: dict[str, int] = {}
        self.on_event: list[Callable[[SecurityEvent], Any]] = []
        self._rates: dict[str, _Rate] = {}
        self._seqs: dict[str, _Seq] = {}
        self._last: dict[tuple[str, str], tuple[int, float]] = {}

    def _raise(
        self, kind: str, severity: str, ts: int, subject: str, message: str, /, **evidence: Any
    ) -> SecurityEvent:
        event = SecurityEvent(kind, severity, ts, subject, message, evidence)
        self.events.append(event)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        for fn in self.on_event:
            fn(event)
        return event

    # -- broker ---------------------------------------------------------------------------------

    def observe_violation(self, evidence: dict[str, Any], ts_ns: int | None = None) -> list[SecurityEvent]:
        """A refusal reported by the broker's authorizer (see :mod:`.broker_acl`)."""
        ts = ts_ns or time.time_ns()
        who = str(evidence.get("username") or evidence.get("client_id") or "?")
        if evidence.get("kind") == "connect":
            return [
                self._raise(
                    "unknown_device",
                    "medium",
                    ts,
                    who,
                    f"MQTT client {evidence.get('client_id')!r} refused: unknown device or wrong credentials",
                    **evidence,
                )
            ]
        what = "revoked device" if evidence.get("revoked") else "device"
        return [
            self._raise(
                "topic_violation",
                "high",
                ts,
                who,
                f"{what} {who} tried to {evidence.get('kind')} {evidence.get('topic')!r} outside "
                f"{evidence.get('allowed_prefix')!r}",
                **evidence,
            )
        ]

    def observe_message(
        self, source: str, ts_ns: int | None = None, now_s: float | None = None
    ) -> list[SecurityEvent]:
        """Count one message from ``source``; a rate spike ends its window with an event."""
        now = time.monotonic() if now_s is None else now_s
        r = self._rates.get(source)
        if r is None:
            self._rates[source] = _Rate(now, 1)
            return []
        out: list[SecurityEvent] = []
        if now - r.window_start >= self.rate_window_s:
            out += self._close_window(source, r, ts_ns or time.time_ns())
            r.window_start, r.count = now, 0
        r.count += 1
        return out

    def _close_window(self, source: str, r: _Rate, ts: int) -> list[SecurityEvent]:
        out = []
        if r.baseline is not None and r.windows >= self.rate_warmup_windows:
            limit = max(self.rate_factor * r.baseline, self.rate_min_count)
            if r.count > limit:
                out.append(
                    self._raise(
                        "rate_spike",
                        "medium",
                        ts,
                        source,
                        f"{source} sent {r.count} messages in {self.rate_window_s:g} s, "
                        f"{r.count / max(r.baseline, 1e-9):.1f}x its usual {r.baseline:.1f}",
                        count=r.count,
                        baseline=round(r.baseline, 2),
                        window_s=self.rate_window_s,
                    )
                )
                r.windows += 1
                return out  # a spike does not become the new normal
        r.baseline = r.count if r.baseline is None else 0.8 * r.baseline + 0.2 * r.count
        r.windows += 1
        return out

    # -- values ---------------------------------------------------------------------------------

    def observe_value(
        self,
        asset: str,
        tag: str,
        value: float,
        ts_ns: int,
        *,
        unit: str = "",
        low: float | None = None,
        high: float | None = None,
    ) -> list[SecurityEvent]:
        """Physically impossible values: below absolute zero, far outside the range, too fast."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return []
        subject = f"{asset}/{tag}"
        if not math.isfinite(value):
            return [
                self._raise(
                    "impossible_value", "high", ts_ns, subject, f"{subject} = {value}", value=str(value)
                )
            ]
        out = []
        zero = ABSOLUTE_ZERO.get(unit)
        if zero is not None and value < zero:
            out.append(
                self._raise(
                    "impossible_value",
                    "high",
                    ts_ns,
                    subject,
                    f"{subject} = {value:g} {unit} is below absolute zero",
                    value=value,
                    unit=unit,
                    limit=zero,
                )
            )
        elif low is not None and high is not None and high > low:
            span = high - low
            margin = self.impossible_spans * span
            if value < low - margin or value > high + margin:
                out.append(
                    self._raise(
                        "impossible_value",
                        "high",
                        ts_ns,
                        subject,
                        f"{subject} = {value:g} is more than {self.impossible_spans:g} span(s) outside "
                        f"its range [{low:g}, {high:g}]",
                        value=value,
                        low=low,
                        high=high,
                    )
                )
            else:
                prev = self._last.get((asset, tag))
                if prev is not None and ts_ns > prev[0]:
                    rate = abs(value - prev[1]) / ((ts_ns - prev[0]) / NS)
                    if rate > self.max_slew * span:
                        out.append(
                            self._raise(
                                "impossible_value",
                                "medium",
                                ts_ns,
                                subject,
                                f"{subject} jumped {prev[1]:g} -> {value:g} in {(ts_ns - prev[0]) / NS:g} s, "
                                f"faster than {self.max_slew:g} spans/s",
                                previous=prev[1],
                                value=value,
                                dt_s=(ts_ns - prev[0]) / NS,
                            )
                        )
        self._last[(asset, tag)] = (ts_ns, float(value))
        return out

    # -- sequence numbers -----------------------------------------------------------------------

    def observe_sequence(
        self, source: str, seq: int, ts_ns: int | None = None, *, modulo: int | None = None, window: int = 64
    ) -> list[SecurityEvent]:
        """Replayed (seen recently) or out-of-order (going back) sequence numbers of a source.

        ``modulo`` for wrapping counters (Sparkplug B: 256): going back means more than half way
        round. A restart (Sparkplug's birth resets to 0) is the caller's to signal with :meth:`reset`.
        """
        ts = ts_ns or time.time_ns()
        s = self._seqs.get(source)
        if s is None:
            self._seqs[source] = _Seq(seq, deque([seq], maxlen=window))
            return []
        out = []
        if seq in s.recent:
            out.append(
                self._raise(
                    "replay",
                    "high",
                    ts,
                    source,
                    f"{source} repeated sequence number {seq}",
                    seq=seq,
                    last=s.last,
                )
            )
        else:
            back = (s.last - seq) % modulo < modulo // 2 if modulo else seq < s.last
            if back:
                out.append(
                    self._raise(
                        "out_of_order",
                        "medium",
                        ts,
                        source,
                        f"{source} sequence went back from {s.last} to {seq}",
                        seq=seq,
                        last=s.last,
                    )
                )
            else:
                s.last = seq
            s.recent.append(seq)
        return out

    def reset(self, source: str) -> None:
        self._seqs.pop(source, None)

    # -- commands -------------------------------------------------------------------------------

    def observe_command(self, user: str, target: str, ts_ns: int | None = None) -> list[SecurityEvent]:
        """A command to a machine: an event when it is outside working hours."""
        ts = ts_ns or time.time_ns()
        when = dt.datetime.fromtimestamp(ts / NS, tz=self.tz or dt.UTC)
        if self.tz is None:
            when = when.astimezone()
        t = when.time().replace(tzinfo=None)
        inside = (
            self.work_start <= t < self.work_end
            if self.work_start <= self.work_end
            else (t >= self.work_start or t < self.work_end)
        )
        if inside:
            return []
        return [
            self._raise(
                "off_hours_command",
                "medium",
                ts,
                user,
                f"{user} sent a command to {target} at {when:%H:%M} {when.tzname()}, outside working hours "
                f"{self.work_start:%H:%M}-{self.work_end:%H:%M}",
                target=target,
                local_time=when.isoformat(),
            )
        ]

    def recent(self, limit: int = 100, kind: str | None = None) -> list[dict[str, Any]]:
        items = [e for e in reversed(self.events) if kind is None or e.kind == kind]
        return [e.as_dict() for e in items[:limit]]
