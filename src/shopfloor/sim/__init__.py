"""shopfloor.sim: the simulated plant (a paper mill with converting and packaging lines).

Machines with physics, wear and faults, sensors with noise and faults, ground truth of
everything injected, and real protocol endpoints (Modbus TCP, OPC UA, MQTT). See docs/sim.md.

>>> from shopfloor.core.assets import Plant
>>> sim = Simulation(Plant.load(DEFAULT_PLANT), seed=7, start_ns=0)
>>> len(sim.machines), 150 <= sim.tag_count <= 300
(12, True)
"""

from __future__ import annotations

from .field import FieldProduct, field_products
from .runtime import Endpoints, backfill, run_realtime
from .simulation import DEFAULT_PLANT, Simulation, WriteRefused
from .truth import GroundTruth, TruthRecord

__all__ = [
    "DEFAULT_PLANT",
    "Endpoints",
    "FieldProduct",
    "GroundTruth",
    "Simulation",
    "TruthRecord",
    "WriteRefused",
    "backfill",
    "field_products",
    "run_realtime",
]
