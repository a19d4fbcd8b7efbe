"""Machine models of the simulated plant, one module per kind.

The plant file's ``kind`` of an asset picks its model (``pump``, ``cutter``, ``press``,
``packaging``, ``camera``); assets of other kinds are structure only.
"""

from __future__ import annotations

from .base import Machine, TagSpec
from .camera import Camera
from .cutter import Cutter
from .packaging import Packaging
from .press import BatchRecord, Press, thickness_um
from .pump import Pump

MODELS: dict[str, type[Machine]] = {m.kind: m for m in (Pump, Cutter, Press, Packaging, Camera)}

__all__ = [
    "MODELS",
    "BatchRecord",
    "Camera",
    "Cutter",
    "Machine",
    "Packaging",
    "Press",
    "Pump",
    "TagSpec",
    "thickness_um",
]
