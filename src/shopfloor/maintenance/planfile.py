"""Plan files: the tasks and the production calendar of a maintenance plan, in TOML.

```toml
risk_limit = 0.1            # largest accepted probability of failing before the work

[calendar]
horizon_h = 168             # one week, hour slots
technicians = 2             # or a list with one value per hour
production_cost_per_h = 1200.0
offline = [[40, 48], [112, 120]]   # [start, end) hours without production

[[task]]
asset = "riverside/converting/line1/cutter"
description = "change the knife"
duration_h = 2
technicians = 1
parts_cost = 350.0
labour_cost_per_h = 60.0
failure_cost = 25000.0
rul = { point = 90, lo = 60, hi = 140, coverage = 0.9 }   # or { weibull_shape, weibull_scale }
                                                          # or { samples = [...] }
```

Errors name the task and the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..analytics.maintenance.planning import Calendar, RULDistribution, Task
from ..core.errors import ConfigError

_TASK_KEYS = {
    "asset",
    "description",
    "duration_h",
    "technicians",
    "parts_cost",
    "labour_cost_per_h",
    "failure_cost",
    "rul",
    "life_cost_per_h",
}


def rul_from(spec: Any, where: str) -> RULDistribution:
    """A RUL distribution from its table (``point/lo/hi``, ``weibull_*`` or ``samples``)."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}.rul: expected a table, got {type(spec).__name__}")
    try:
        if "samples" in spec:
            return RULDistribution.from_samples([float(v) for v in spec["samples"]])
        if "weibull_shape" in spec:
            return RULDistribution.weibull(float(spec["weibull_shape"]), float(spec["weibull_scale"]))
        return RULDistribution.from_interval(
            float(spec["point"]), float(spec["lo"]), float(spec["hi"]), float(spec.get("coverage", 0.9))
        )
    except KeyError as err:
        raise ConfigError(
            f"{where}.rul: missing {err.args[0]!r} (give point/lo/hi, weibull_shape/weibull_scale or samples)"
        ) from err
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}.rul: {err}") from err


def parse(doc: dict[str, Any], source: str = "plan") -> tuple[list[Task], Calendar, float]:
    """Tasks, calendar and risk limit from a parsed plan document."""
    cal_doc = doc.get("calendar")
    if not isinstance(cal_doc, dict):
        raise ConfigError(f"{source}: missing [calendar] table")
    try:
        offline = [(int(a), int(b)) for a, b in cal_doc.get("offline", [])]
        techs = cal_doc.get("technicians", 1)
        calendar = Calendar(
            horizon_h=int(cal_doc["horizon_h"]),
            offline=offline,
            technicians=int(techs) if isinstance(techs, int) else [int(v) for v in techs],
            production_cost_per_h=float(cal_doc.get("production_cost_per_h", 1000.0)),
        )
    except KeyError as err:
        raise ConfigError(f"{source}: [calendar] needs {err.args[0]!r}") from err
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{source}: [calendar]: {err}") from err
    tasks = []
    for i, spec in enumerate(doc.get("task", [])):
        where = f"{source}: task[{i}]"
        unknown = set(spec) - _TASK_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if "asset" not in spec or "rul" not in spec:
            raise ConfigError(f"{where}: needs 'asset' and 'rul'")
        try:
            tasks.append(
                Task(
                    asset=str(spec["asset"]),
                    rul=rul_from(spec["rul"], where),
                    duration_h=int(spec.get("duration_h", 2)),
                    technicians=int(spec.get("technicians", 1)),
                    parts_cost=float(spec.get("parts_cost", 0.0)),
                    labour_cost_per_h=float(spec.get("labour_cost_per_h", 60.0)),
                    failure_cost=float(spec.get("failure_cost", 10_000.0)),
                    description=str(spec.get("description", "")),
                    life_cost_per_h=float(spec["life_cost_per_h"]) if "life_cost_per_h" in spec else None,
                )
            )
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: {err}") from err
    if not tasks:
        raise ConfigError(f"{source}: no [[task]] entries")
    risk = float(doc.get("risk_limit", 0.1))
    return tasks, calendar, risk


def load(path: Path) -> tuple[list[Task], Calendar, float]:
    """Read and parse a plan file (TOML)."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"plan file {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"plan file {path}: {err}") from err
    return parse(doc, str(path))
