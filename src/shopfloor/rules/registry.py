"""The rules in force and their bindings, indexed by (asset, tag) for the stream.

:class:`RuleSet` holds the rules (from files, read-only, and from the API), one
:class:`~shopfloor.rules.binding.Binding` per rule and asset, and the index the engine looks
every sample up in: ``(asset, tag) -> bindings``. A sample no rule watches costs one dict
lookup. No I/O here: the engine persists.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import Any

from ..core.assets import Plant
from ..core.clock import Clock
from ..core.errors import ConfigError
from .binding import Binding
from .model import Priority, Rule

log = logging.getLogger(__name__)


class RuleSet:
    """Rules, bindings and the (asset, tag) index; see the module docstring."""

    def __init__(self, plant: Plant, rules: Sequence[Rule], clock: Clock) -> None:
        self.plant = plant
        self.clock = clock
        self.rules: dict[str, Rule] = {}
        for rule in rules:
            if rule.id in self.rules:
                raise ConfigError(f"{rule.origin or 'rules'}: rule {rule.id!r}: field 'id': duplicate id")
            self.check(rule)
            self.rules[rule.id] = rule
        self.file_ids = frozenset(self.rules)
        self.bindings: dict[str, Binding] = {}
        self.by_rule: dict[str, list[Binding]] = {}
        self.index: dict[tuple[str, str], list[Binding]] = {}

    def assets_of(self, rule: Rule) -> list[str]:
        """The asset paths a rule applies to (a glob's ``*`` also matches across ``/``)."""
        if not rule.is_pattern:
            return [rule.asset]
        return [
            a.path
            for a in self.plant.assets()
            if fnmatchcase(a.path, rule.asset) and (not rule.asset_kind or a.kind == rule.asset_kind)
        ]

    def check(self, rule: Rule) -> None:
        """Check a rule against the plant; ConfigError naming the field when it cannot apply."""
        where = f"{rule.origin}: rule {rule.id!r}" if rule.origin else f"rule {rule.id!r}"
        assets = self.assets_of(rule)
        if rule.is_pattern and not assets:
            kind = f" of kind {rule.asset_kind!r}" if rule.asset_kind else ""
            raise ConfigError(f"{where}: field 'asset': no asset{kind} in the plant matches {rule.asset!r}")
        if not rule.is_pattern and rule.asset not in self.plant:
            raise ConfigError(f"{where}: field 'asset': the plant has no asset {rule.asset!r}")
        for asset in assets:
            for tag in rule.triggers:
                if self.plant.get_tag(asset, tag) is None:
                    log.info("rule %s: %s/%s is not in the plant model (a derived tag?)", rule.id, asset, tag)

    def view(self, rule: Rule) -> dict[str, Any]:
        """A rule as the API shows it: its fields, where it comes from, its alarms."""
        source = "api" if rule.id not in self.file_ids else (rule.origin or "file")
        return {**rule.to_dict(), "source": source, "alarms": [b.id for b in self.by_rule.get(rule.id, [])]}

    def select(
        self,
        state: str | Iterable[str] | None = None,
        priority: str | Iterable[str] | None = None,
        asset: str | None = None,
    ) -> list[Binding]:
        """Bindings whose alarm is in one of the states, of one of the priorities, under an asset;
        most urgent first, then the latest change first."""
        states = {state} if isinstance(state, str) else set(state) if state else None
        prios = {priority} if isinstance(priority, str) else set(priority) if priority else None
        prefix = asset.strip("/") if asset else None
        out = []
        for b in self.bindings.values():
            if states and b.alarm.state.value not in states:
                continue
            if prios and b.rule.priority.value not in prios:
                continue
            if prefix and not (b.asset == prefix or b.asset.startswith(prefix + "/")):
                continue
            out.append(b)
        rank = {p: i for i, p in enumerate(Priority)}
        out.sort(key=lambda b: (rank[b.rule.priority], -b.alarm.since, b.id))
        return out

    def bind_all(self) -> None:
        """Bind every rule (at start)."""
        for rule in self.rules.values():
            self._bind(rule, {})
        self._rebuild_index()

    def put(self, rule: Rule) -> list[Binding]:
        """Add or replace a rule; alarms it keeps keep their states. Returns the dropped bindings."""
        old = {b.id: b for b in self._unbind(rule.id)}
        self.rules[rule.id] = rule
        kept = self._bind(rule, old)
        self._rebuild_index()
        return [b for i, b in old.items() if i not in kept]

    def remove(self, rule_id: str) -> list[Binding]:
        """Remove a rule; returns its bindings."""
        gone = self._unbind(rule_id)
        self.rules.pop(rule_id, None)
        self._rebuild_index()
        return gone

    def _bind(self, rule: Rule, restore: dict[str, Binding]) -> set[str]:
        bindings = []
        now = self.clock.now_ns()  # a stale rule's grace period starts when it is bound
        if rule.enabled:
            for asset in self.assets_of(rule):
                tag = self.plant.get_tag(asset, rule.tag) if rule.tag else None
                b = Binding(rule, asset, now, unit=tag.unit if tag else "")
                old = restore.get(b.id)
                if old is not None:
                    b.alarm, b.value = old.alarm, old.value
                    b.delay.active = old.alarm.active
                bindings.append(b)
                self.bindings[b.id] = b
        self.by_rule[rule.id] = bindings
        return {b.id for b in bindings}

    def _unbind(self, rule_id: str) -> list[Binding]:
        gone = self.by_rule.pop(rule_id, [])
        for b in gone:
            self.bindings.pop(b.id, None)
        return gone

    def _rebuild_index(self) -> None:
        index: dict[tuple[str, str], list[Binding]] = {}
        for b in self.bindings.values():
            for tag in b.rule.triggers:
                index.setdefault((b.asset, tag), []).append(b)
        self.index = index
