"""A setpoint command and its states.

::

    requested ──approve──▶ approved ──▶ sent ──▶ confirmed
        │  (critical: a second person)        └──▶ failed   (device error, read-back, timeout)
        └──▶ refused (interlock, or the approver said no)    failed (approval timed out)

A command that is not critical goes from ``requested`` to ``approved`` at once (approved by
the requester's submission). Every transition is one row of the audit trail.

>>> c = Command.new("s/a/l/m", "speed_sp", 80.0, "alice", reason="trim", now=1)
>>> c.state.value, c.final
('requested', False)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ...core.errors import CommandRefused


class CommandState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    REFUSED = "refused"


FINAL = frozenset({CommandState.CONFIRMED, CommandState.FAILED, CommandState.REFUSED})


class InterlockRefused(CommandRefused):
    """An interlock refused the command; ``reason`` is a short code (``out_of_limits``, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnknownCommand(KeyError):
    """No command with that id (the API answers 404)."""


@dataclass(slots=True)
class Command:
    id: str
    asset: str
    tag: str
    value: float
    requested_by: str
    reason: str = ""
    critical: bool = False
    state: CommandState = CommandState.REQUESTED
    approved_by: str = ""
    created_at: int = 0
    updated_at: int = 0
    result: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        asset: str,
        tag: str,
        value: float,
        user: str,
        *,
        reason: str = "",
        critical: bool = False,
        now: int,
    ) -> Command:
        return cls(
            uuid.uuid4().hex, asset, tag, value, user, reason, critical, created_at=now, updated_at=now
        )

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "asset": self.asset,
            "tag": self.tag,
            "value": self.value,
            "reason": self.reason,
            "critical": self.critical,
            "state": self.state.value,
            "requested_by": self.requested_by,
            "approved_by": self.approved_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "result": self.result,
        }
