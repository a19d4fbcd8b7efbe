"""``shopfloor bench NAME``: end-to-end measurements, side by side with their reference.

:data:`REGISTRY` maps a benchmark name to its module under ``shopfloor.bench``. A module
exposes ``run(**options) -> dict``; the CLI passes it the options its signature names
(``duration_s``, ``points``, ``broker``, ``backend``). Add a line here to add a benchmark.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from shopfloor.core.errors import ConfigError

REGISTRY: dict[str, str] = {
    "ingest": "ingest",
    "store": "store",
    "detect": "detect",
    "tinyml": "tinyml",
    "scale": "scale",
    "sparkplug": "sparkplug",
    "edge": "edge",
    "alarm": "alarm",
}


def run_bench(name: str, **options: Any) -> dict[str, Any]:
    """Run benchmark ``name`` with the options its ``run`` accepts (others are ignored)."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown benchmark {name!r}: choose one of {', '.join(REGISTRY)}")
    module = importlib.import_module(f"{__name__}.{REGISTRY[name]}")
    accepted = inspect.signature(module.run).parameters
    result: dict[str, Any] = module.run(**{k: v for k, v in options.items() if k in accepted})
    return result
