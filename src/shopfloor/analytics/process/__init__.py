"""Closed-loop process optimisation (pure compute; imports only shopfloor.core and analytics).

* :class:`ProcessModel`: quality as a function of material properties and settings (ridge
  regression with interactions), learned from history, invertible for one setting;
* :class:`EwmaR2R` (feed-forward + EWMA run-to-run feedback) and :class:`PID` (anti-windup);
* :class:`Limits`: setpoint range and rate limit, enforced on every move;
* :class:`ControlLoop`: advisory or closed loop; every move is a :class:`Recommendation`
  record, setpoints leave through a :class:`SetpointSink` (the command path);
* :class:`Supervisor`: SPC (EWMA chart) on the output; self-corrects on drift and tracks
  capability before and after (:class:`Correction`).
"""

from .control import PID, EwmaR2R, Limits
from .correct import Correction, Supervisor
from .loop import ControlLoop, Recommendation, SetpointSink
from .model import ProcessModel

__all__ = [
    "PID",
    "ControlLoop",
    "Correction",
    "EwmaR2R",
    "Limits",
    "ProcessModel",
    "Recommendation",
    "SetpointSink",
    "Supervisor",
]
