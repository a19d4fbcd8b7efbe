"""The rule engine: rules on the sample stream, ISA-18.2 alarms, persisted in the state store.

:class:`RuleEngine` subscribes to the bus subject ``samples`` (policy ``block``: alarms
must not be lost), evaluates the rules that watch each sample's (asset, tag) (a sample no
rule watches costs one dict lookup), and for every alarm transition writes the journal and
the alarm's state to SQLite, then publishes the transition on ``events`` as a dict
(``type = "alarm"``). A periodic tick completes on/off delays, detects stale data and ends
shelves. The alarms' states and their conditions' states are reloaded at start, so a
restart loses nothing; rules defined over the API are kept in the state store too.

Times are the engine's clock (arrival time), except rates of change, which use the samples'
own timestamps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from ..bus.base import Bus, Subscription, drain_and_stop
from ..core.assets import Plant
from ..core.clock import NS, Clock, WallClock, parse_duration
from ..core.errors import AlarmError, BusClosed, ConfigError, StoreError
from ..core.sample import Sample, Value
from ..store.state import StateStore
from . import journal, metrics
from .alarms import Event, apply
from .binding import Binding, Out
from .model import Rule
from .registry import RuleSet

log = logging.getLogger(__name__)


class UnknownAlarm(KeyError):
    """No alarm with that id (the API answers 404)."""


class RuleEngine:
    """Rules and alarms for one plant; see the module docstring.

    ``rules`` are the rules from files (read-only over the API); rules added over the API
    are stored in ``state`` and loaded at :meth:`start`.
    """

    def __init__(
        self,
        plant: Plant,
        bus: Bus,
        state: StateStore,
        rules: Sequence[Rule] = (),
        clock: Clock | None = None,
        *,
        tick_s: float = 1.0,
        persist_s: float = 5.0,
        queue_size: int | None = None,
        operators: int = 1,
        name: str = "rules",
    ) -> None:
        self.plant = plant
        self.bus = bus
        self.state = state
        self.clock: Clock = clock or WallClock()
        self.tick_s = tick_s
        self.persist_ns = int(persist_s * NS)
        self.queue_size = queue_size
        self.operators = operators
        self.name = name
        self._set = RuleSet(plant, rules, self.clock)
        self._latest: dict[str, dict[str, Value]] = {}
        self._pending: list[dict[str, Any]] = []
        self._dirty: set[str] = set()
        self._touched: set[str] = set()
        self._last_persist = 0
        self._lock = asyncio.Lock()
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at = self.clock.now_ns()
        self.samples = 0
        self.evaluated = 0
        self.transitions = 0
        self.store_errors = 0
        self.eval_errors = 0

    # -- rules --------------------------------------------------------------------------------------

    @property
    def rules(self) -> list[Rule]:
        return list(self._set.rules.values())

    def rule(self, rule_id: str) -> Rule | None:
        return self._set.rules.get(rule_id)

    def is_file_rule(self, rule_id: str) -> bool:
        return rule_id in self._set.file_ids

    def assets_of(self, rule: Rule) -> list[str]:
        """The asset paths a rule applies to."""
        return self._set.assets_of(rule)

    def check(self, rule: Rule) -> None:
        """Check a rule against the plant; ConfigError naming the field when it cannot apply."""
        self._set.check(rule)

    def rules_view(self) -> list[dict[str, Any]]:
        """Every rule as the API shows it."""
        return [self._set.view(r) for r in self._set.rules.values()]

    def rule_view(self, rule: Rule) -> dict[str, Any]:
        return self._set.view(rule)

    async def add_rule(self, rule: Rule | dict[str, Any], user: str = "") -> Rule:
        """Add (or replace) a rule defined over the API; it is stored and applies at once.

        Raises ValidationError (a bad field), ConfigError (not applicable to the plant) or
        AlarmError (the id belongs to a rule from a file).
        """
        if not isinstance(rule, Rule):
            rule = Rule.model_validate(rule)
        rule.set_origin("api")
        if self.is_file_rule(rule.id):
            raise AlarmError(f"rule {rule.id!r} is defined in a rules file; change it there")
        self._set.check(rule)
        await journal.save_rule(self.state, rule.id, rule.to_dict(), user, self.clock.now_ns())
        dropped = self._set.put(rule)
        await journal.delete_alarms(self.state, [b.id for b in dropped])
        log.info("rule %s added over the API by %s", rule.id, user or "anonymous")
        return rule

    async def delete_rule(self, rule_id: str, user: str = "") -> None:
        """Delete a rule defined over the API, with its alarms (their journal stays)."""
        if self.is_file_rule(rule_id):
            raise AlarmError(f"rule {rule_id!r} is defined in a rules file; remove it there")
        if rule_id not in self._set.rules:
            raise UnknownAlarm(f"no rule {rule_id!r}")
        await journal.delete_rule(self.state, rule_id)
        gone = self._set.remove(rule_id)
        await journal.delete_alarms(self.state, [b.id for b in gone])
        log.info("rule %s deleted over the API by %s", rule_id, user or "anonymous")

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load API rules and persisted alarm states, then follow the sample stream."""
        self._sub = self.bus.subscribe("samples", self.name, queue_size=self.queue_size, policy="block")
        self.started_at = self._last_persist = self.clock.now_ns()
        for body in await journal.load_rules(self.state):
            try:
                rule = Rule.model_validate(body)
                rule.set_origin("api")
                if self.is_file_rule(rule.id):
                    log.warning("API rule %s is shadowed by a rule from a file of the same id", rule.id)
                    continue
                self.check(rule)
            except (ValidationError, ConfigError) as err:
                log.error("stored API rule %r is not valid any more; skipped: %s", body.get("id"), err)
                continue
            self._set.rules[rule.id] = rule
        self._set.bind_all()
        saved = await journal.load_alarms(self.state)
        restored = 0
        for alarm_id, (flags, cond, value) in saved.items():
            b = self._set.bindings.get(alarm_id)
            if b is not None:
                b.restore(flags, cond, value)
                restored += 1
        log.info(
            "rule engine: %d rules, %d alarms (%d restored), %d watched series",
            len(self._set.rules),
            len(self._set.bindings),
            restored,
            len(self._set.index),
        )
        self._tasks = [
            asyncio.create_task(self._consume(), name=f"{self.name}-consume"),
            asyncio.create_task(self._tick_loop(), name=f"{self.name}-tick"),
        ]

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Evaluate what is still queued, persist everything, stop."""
        sub = self._sub
        if sub is None:
            return
        consume, tick = self._tasks
        await drain_and_stop(sub, consume, tick, time.monotonic() + timeout_s)
        self._tasks = []
        self._sub = None
        self._dirty |= self._touched
        self._touched.clear()
        await self._flush()

    async def _consume(self) -> None:
        assert self._sub is not None
        async for batch in self._sub:
            try:
                out = self.evaluate(batch)
            except Exception:  # supervisor: one bad batch must not stop alarming
                self.eval_errors += 1
                log.exception("rule engine: evaluating a batch of %d samples failed", len(batch))
                continue
            if out:
                self._record(out)
                await self._flush()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except Exception:  # supervisor: log and tick again
                log.exception("rule engine: tick failed")

    # -- evaluation ---------------------------------------------------------------------------------

    def evaluate(self, batch: Iterable[Sample], now: int | None = None) -> Out:
        """Evaluate a batch in memory; the transitions (not yet recorded)."""
        if now is None:
            now = self.clock.now_ns()
        out: Out = []
        index = self._set.index
        latest = self._latest
        touched = self._touched
        n = 0
        for s in batch:
            n += 1
            bindings = index.get((s.asset, s.tag))
            if bindings is None:
                continue
            values = latest.get(s.asset)
            if values is None:
                values = latest[s.asset] = {}
            if s.quality:
                values[s.tag] = s.value
            for b in bindings:
                b.on_sample(s, now, values, out)
                touched.add(b.id)
                self.evaluated += 1
        self.samples += n
        return out

    async def process(self, batch: Iterable[Sample]) -> list[dict[str, Any]]:
        """Evaluate, persist and publish: what the stream does with a batch (for tests, benches)."""
        out = self.evaluate(batch)
        entries = self._record(out)
        await self._flush()
        return entries

    async def tick(self, now: int | None = None) -> list[dict[str, Any]]:
        """Delays, stale data, shelve expiry; persists touched condition states now and then."""
        if now is None:
            now = self.clock.now_ns()
        out: Out = []
        for b in list(self._set.bindings.values()):
            b.on_tick(now, out)
        entries = self._record(out)
        if now - self._last_persist >= self.persist_ns:
            self._last_persist = now
            self._dirty |= self._touched
            self._touched = set()
        await self._flush()
        return entries

    def _record(self, out: Out) -> list[dict[str, Any]]:
        entries = [b.entry(t) for b, t in out]
        if entries:
            self._pending.extend(entries)
            self._dirty.update(b.id for b, _ in out)
            self.transitions += len(entries)
        return entries

    async def _flush(self) -> bool:
        """Persist pending journal entries and dirty alarms, then publish the entries."""
        async with self._lock:
            if not self._pending and not self._dirty:
                return True
            entries, self._pending = self._pending, []
            dirty, self._dirty = self._dirty, set()
            now = self.clock.now_ns()
            rows = [b.row(now) for i in dirty if (b := self._set.bindings.get(i)) is not None]
            try:
                await journal.save(self.state, [journal.journal_row(e) for e in entries], rows)
            except StoreError as err:
                self._pending[:0] = entries
                self._dirty |= dirty
                self.store_errors += 1
                log.warning(
                    "rule engine: saving %d alarm transitions failed (kept, retried): %s", len(entries), err
                )
                return False
            if entries:
                try:
                    await self.bus.publish("events", entries)
                except BusClosed:
                    log.debug(
                        "bus closed: %d alarm events not published (they are in the journal)", len(entries)
                    )
            return True

    # -- alarms -------------------------------------------------------------------------------------

    def alarm(self, alarm_id: str) -> dict[str, Any]:
        return self._binding(alarm_id).as_dict()

    def _binding(self, alarm_id: str) -> Binding:
        b = self._set.bindings.get(alarm_id)
        if b is None:
            raise UnknownAlarm(f"no alarm {alarm_id!r}")
        return b

    def alarms(
        self,
        state: str | Iterable[str] | None = None,
        priority: str | Iterable[str] | None = None,
        asset: str | None = None,
    ) -> list[dict[str, Any]]:
        """Alarms, most urgent and newest first; filters: states, priorities, asset subtree."""
        return [b.as_dict() for b in self._set.select(state, priority, asset)]

    async def act(
        self, alarm_id: str, event: Event, user: str, comment: str = "", duration: str | float | None = None
    ) -> dict[str, Any]:
        """An operator action (ack, shelve, unshelve, comment, out/return to service); journaled."""
        b = self._binding(alarm_id)
        if not user or not user.strip():
            raise AlarmError("an alarm action needs the user who takes it")
        now = self.clock.now_ns()
        until = None
        if event is Event.SHELVE:
            ns = parse_duration(duration) if duration is not None else b.rule.max_shelve_ns
            if ns <= 0 or ns > b.rule.max_shelve_ns:
                raise AlarmError(
                    f"shelve duration must be positive and at most {b.rule.max_shelve} (rule max_shelve)"
                )
            until = now + ns
        t = apply(b.alarm, event, now, user=user.strip(), comment=comment, until=until)
        assert t is not None
        self._record([(b, t)])
        await self._flush()
        return b.as_dict()

    async def ack(self, alarm_id: str, user: str, comment: str = "") -> dict[str, Any]:
        return await self.act(alarm_id, Event.ACK, user, comment)

    async def shelve(
        self, alarm_id: str, user: str, duration: str | float | None = None, comment: str = ""
    ) -> dict[str, Any]:
        return await self.act(alarm_id, Event.SHELVE, user, comment, duration)

    async def journal(self, **filters: Any) -> list[dict[str, Any]]:
        """Journal entries, newest first (filters: alarm_id, asset, event, since, until, limit)."""
        return await journal.query_journal(self.state, **filters)

    async def metrics(
        self, window: str | float = "10m", period: str | float = "24h", operators: int | None = None
    ) -> dict[str, Any]:
        """EEMUA 191 figures over ``period`` (see :mod:`shopfloor.rules.metrics`)."""
        now = self.clock.now_ns()
        window_ns, period_ns = parse_duration(window), parse_duration(period)
        if window_ns <= 0 or period_ns < window_ns:
            raise AlarmError("metrics need 0 < window <= period")
        seen = await journal.annunciations(self.state, now - period_ns)
        return metrics.compute(
            seen,
            (b.as_dict() for b in self._set.bindings.values()),
            now=now,
            window_ns=window_ns,
            period_ns=period_ns,
            operators=operators or self.operators,
        )

    def stats(self) -> dict[str, Any]:
        return {
            "rules": len(self._set.rules),
            "alarms": len(self._set.bindings),
            "watched_series": len(self._set.index),
            "samples": self.samples,
            "evaluated": self.evaluated,
            "transitions": self.transitions,
            "pending": len(self._pending),
            "store_errors": self.store_errors,
            "eval_errors": self.eval_errors,
        }
