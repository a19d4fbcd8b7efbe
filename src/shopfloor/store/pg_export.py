"""Export rows of the PostgreSQL store to CSV or Parquet, streamed in chunks (constant memory).

The columns are those of the embedded store's export, so a file looks the same whichever backend
wrote it: ``asset, tag, time`` (ISO 8601 UTC with nanoseconds), ``value`` (float; bool as 0/1;
empty for str samples), ``quality`` and ``text`` (the value of str samples).

>>> iso_times(np.array([1_700_000_040_000_000_001]))
['2023-11-14T22:14:00.000000001Z']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("asset", pa.string()),
        ("tag", pa.string()),
        ("time", pa.string()),
        ("value", pa.float64()),
        ("quality", pa.uint8()),
        ("text", pa.string()),
    ]
)


def iso_times(ts: np.ndarray) -> list[str]:
    """ISO 8601 UTC strings with nanoseconds of epoch-nanosecond times."""
    text = np.datetime_as_string(ts.astype("datetime64[ns]"), unit="ns")
    return [t + "Z" for t in text.tolist()]


def chunk_table(rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """One Arrow table (``SCHEMA``) from ``(asset, tag, ts, value, quality, text)`` rows."""
    asset, tag, ts, value, quality, text = zip(*rows, strict=True)
    return pa.Table.from_arrays(
        [
            pa.array(asset, pa.string()),
            pa.array(tag, pa.string()),
            pa.array(iso_times(np.asarray(ts, dtype=np.int64)), pa.string()),
            pa.array(value, pa.float64()),
            pa.array(quality, pa.uint8()),
            pa.array(text, pa.string()),
        ],
        schema=SCHEMA,
    )


class ExportWriter:
    """Appends chunks to one CSV (with header) or Parquet file; ``close()`` finishes it."""

    def __init__(self, path: Path, fmt: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer: pacsv.CSVWriter | pq.ParquetWriter
        if fmt == "csv":
            options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
            self._writer = pacsv.CSVWriter(str(path), SCHEMA, write_options=options)
        else:
            self._writer = pq.ParquetWriter(str(path), SCHEMA)
        self.rows = 0

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self._writer.write_table(chunk_table(rows))
            self.rows += len(rows)

    def close(self) -> None:
        self._writer.close()
