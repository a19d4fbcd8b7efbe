"""Setpoint commands to machines: interlocks, two-person approval, read-back, timeout, audit.

- :mod:`.model`: :class:`Command` and its states;
- :mod:`.interlocks`: limits, machine mode, step and rate checks;
- :mod:`.transport`: how commands reach machines (OPC UA write + read back);
- :mod:`.mqtt`: the MQTT command topic (edge agent, simulated plant);
- :mod:`.store`: commands and their audit trail in the state store;
- :mod:`.service`: :class:`CommandService` (submit, approve, reject, ``write`` for loops).

See docs/commands.md.
"""

from .model import Command, CommandState, InterlockRefused, UnknownCommand
from .service import CommandService

__all__ = ["Command", "CommandService", "CommandState", "InterlockRefused", "UnknownCommand"]
