"""Reading feedback files: JSON Lines (one object per line) or CSV with a ``text`` column.

A line that is not JSON is passed on as a raw string, so the service rejects it with a
reason and keeps it (nothing is dropped silently).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError


def read_feedback_file(path: Path) -> Iterator[Any]:
    """Items of a ``.jsonl``/``.ndjson``/``.json`` or ``.csv`` feedback file."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "text" not in reader.fieldnames:
                raise ConfigError(f"{path}: CSV needs a 'text' column; header is {reader.fieldnames}")
            for row in reader:
                yield {k: v for k, v in row.items() if k and v not in (None, "")}
        return
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        yield from data if isinstance(data, list) else [data]
        return
    if suffix not in (".jsonl", ".ndjson"):
        raise ConfigError(f"{path}: unknown feedback file type {suffix!r} (use .jsonl, .json or .csv)")
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                yield line.rstrip("\n")
