"""Rules and ISA-18.2 alarms: conditions on tags, evaluated on the sample stream.

- :mod:`.model`: the :class:`Rule` definition (pydantic), the same from files and the API;
- :mod:`.load`: rules files (TOML, ``[[rule]]``) with errors naming file, line and field;
- :mod:`.conditions`: stateful evaluators (thresholds with deadband, rate, match, stale,
  expressions) and the on/off :class:`~.conditions.Delay`;
- :mod:`.alarms`: the ISA-18.2 state machine (pure);
- :mod:`.binding`: one rule on one asset;
- :mod:`.registry`: the rules in force, their bindings and the (asset, tag) index;
- :mod:`.journal`: persistence in the state store;
- :mod:`.metrics`: EEMUA 191 alarm-system figures;
- :mod:`.engine`: :class:`RuleEngine`, wiring it to the bus and the state store.
"""

from .alarms import AlarmState, Event, State, Transition
from .engine import RuleEngine, UnknownAlarm
from .load import load_rules, load_rules_text
from .model import Priority, Rule

__all__ = [
    "AlarmState",
    "Event",
    "Priority",
    "Rule",
    "RuleEngine",
    "State",
    "Transition",
    "UnknownAlarm",
    "load_rules",
    "load_rules_text",
]
