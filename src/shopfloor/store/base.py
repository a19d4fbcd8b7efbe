"""The store interfaces every backend implements, and one contract test suite checks.

Times are UTC epoch nanoseconds. ``asset`` is an asset path, ``tag`` a tag name.
All methods are async; blocking databases run their calls in ``asyncio.to_thread``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ..core.sample import Sample

AGGREGATES = ("avg", "min", "max", "count", "first", "last", "sum")
ExportFormat = Literal["csv", "parquet"]


class TimeSeriesStore(ABC):
    """Where samples live."""

    @abstractmethod
    async def open(self) -> None:
        """Open or create the store (raises StoreUnavailable)."""

    @abstractmethod
    async def close(self) -> None:
        """Flush and close; safe to call twice."""

    @abstractmethod
    async def write(self, samples: Sequence[Sample]) -> int:
        """Write one batch durably (one transaction); returns the number written."""

    @abstractmethod
    async def latest(self, asset: str | None = None) -> list[Sample]:
        """Latest sample of every series, optionally of one asset and its descendants."""

    @abstractmethod
    async def history(self, asset: str, tag: str, start: int, end: int, limit: int = 100_000) -> list[Sample]:
        """Raw samples of one series with ``start <= ts < end``, oldest first."""

    @abstractmethod
    async def aggregate(
        self,
        asset: str,
        tag: str,
        start: int,
        end: int,
        bucket_ns: int,
        aggs: Sequence[str] = ("avg", "min", "max", "count"),
    ) -> list[dict[str, Any]]:
        """Time-bucketed aggregates of one series: ``[{"ts": bucket_start, "avg": ..}, ..]``.

        Buckets are aligned to multiples of ``bucket_ns`` since the epoch; empty buckets are
        left out. Raises QueryError for an unknown aggregate or a non-positive bucket.
        """

    @abstractmethod
    async def aggregate_all(
        self, start: int, end: int, bucket_ns: int, agg: str = "avg"
    ) -> list[dict[str, Any]]:
        """One aggregate of every series per bucket: ``[{"asset", "tag", "ts", "value"}, ..]``."""

    @abstractmethod
    async def series(self) -> list[tuple[str, str]]:
        """Every (asset, tag) with stored samples."""

    @abstractmethod
    async def enforce_retention(self, now_ns: int) -> int:
        """Roll up and delete samples past retention; returns rows deleted."""

    @abstractmethod
    async def export(
        self,
        path: Path,
        fmt: ExportFormat,
        start: int,
        end: int,
        asset: str | None = None,
    ) -> int:
        """Write samples in [start, end) (of one asset subtree or all) to CSV or Parquet."""

    @abstractmethod
    async def stats(self) -> dict[str, Any]:
        """Row counts, series count, file size: for health and metrics."""
