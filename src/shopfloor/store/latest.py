"""The newest sample of every series, in memory, as numpy columns indexed by series id.

Updating costs a few vectorised numpy operations per batch (no Python object per series);
:meth:`LatestCache.samples` builds :class:`Sample` objects only when asked, and only for the
series that changed since it was last asked.

>>> from shopfloor.store.columns import encode
>>> batch = [Sample("a", "x", 5, 1.5), Sample("a", "x", 3, 9.0), Sample("a", "y", 4, "on")]
>>> cache = LatestCache()
>>> cache.update(encode(batch, [0, 0, 1]))
>>> [(s.tag, s.ts, s.value) for s in cache.samples([("a", "x"), ("a", "y")])]
[('x', 5, 1.5), ('y', 4, 'on')]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ..core.sample import Quality, Sample
from .columns import KIND_FLOAT, KIND_MASK, KIND_STR, QUALITY_MASK, decode_value, last_per_series, quality_of

_NONE = np.iinfo(np.int64).min
_QUALITY = {int(q): q for q in Quality}


class LatestCache:
    """Latest (ts, value, kind, quality) per series id; str values in a side dict."""

    def __init__(self) -> None:
        self.ts = np.full(0, _NONE, dtype=np.int64)
        self.value = np.zeros(0, dtype=np.float64)
        self.kind = np.zeros(0, dtype=np.uint8)
        self.quality = np.zeros(0, dtype=np.uint8)
        self.text: dict[int, str] = {}
        self._dirty = np.zeros(0, dtype=np.bool_)
        self._objs: list[Sample | None] = []

    def _grow(self, size: int) -> None:
        if size <= len(self.ts):
            return
        size = max(size, 2 * len(self.ts), 1024)
        extra = size - len(self.ts)
        self.ts = np.concatenate([self.ts, np.full(extra, _NONE, dtype=np.int64)])
        self.value = np.concatenate([self.value, np.zeros(extra, dtype=np.float64)])
        self.kind = np.concatenate([self.kind, np.zeros(extra, dtype=np.uint8)])
        self.quality = np.concatenate([self.quality, np.zeros(extra, dtype=np.uint8)])
        self._dirty = np.concatenate([self._dirty, np.zeros(extra, dtype=np.bool_)])
        self._objs.extend([None] * extra)

    def update(self, table: pa.Table) -> None:
        """Take the newest row of each series of one encoded batch, where newer than known."""
        sids = table.column("series_id").to_numpy()
        ts = table.column("ts").to_numpy()
        if len(ts) == 0:
            return
        ids, rows = last_per_series(sids, ts)
        self._grow(int(ids.max()) + 1)
        newer = ts[rows] >= self.ts[ids]
        ids, rows = ids[newer], rows[newer]
        values = table.column("value").to_numpy(zero_copy_only=False)
        kinds = table.column("kind").to_numpy()
        self.ts[ids] = ts[rows]
        self.value[ids] = values[rows]
        self.kind[ids] = kinds[rows]
        self.quality[ids] = table.column("quality").to_numpy()[rows]
        self._dirty[ids] = True
        is_str = kinds[rows] == KIND_STR
        if is_str.any():
            text = table.column("text")
            for sid, row in zip(ids[is_str].tolist(), rows[is_str].tolist(), strict=True):
                self.text[sid] = text[row].as_py() or ""
        if self.text and not is_str.all():
            for sid in ids[~is_str].tolist():
                self.text.pop(sid, None)

    def load(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Fill from ``(series_id, ts, value, text, flags)`` rows (at open)."""
        for sid, ts, value, text, flags in rows:
            kind = flags & KIND_MASK
            self._grow(sid + 1)
            self.ts[sid] = ts
            self.value[sid] = np.nan if value is None else value
            self.kind[sid] = kind
            self.quality[sid] = flags & QUALITY_MASK
            self._dirty[sid] = True
            if kind == KIND_STR:
                self.text[sid] = text or ""

    def drop_before(self, cutoff: int) -> None:
        """Forget series whose newest sample is older than ``cutoff`` (deleted by retention)."""
        old = np.flatnonzero((self.ts != _NONE) & (self.ts < cutoff))
        self.ts[old] = _NONE
        for sid in old.tolist():
            self.text.pop(sid, None)
            self._objs[sid] = None

    def samples(self, keys: Sequence[tuple[str, str]], ids: Sequence[int] | None = None) -> list[Sample]:
        """Samples of the series ``ids`` (default all, by id) that have one, in that order."""
        self._refresh(keys)
        objs = self._objs
        if ids is None:
            ids = range(min(len(keys), len(objs)))
        found = [objs[i] for i in ids if i < len(objs)]
        return [s for s in found if s is not None]

    def _refresh(self, keys: Sequence[tuple[str, str]]) -> None:
        dirty = np.flatnonzero(self._dirty[: len(keys)] & (self.ts[: len(keys)] != _NONE))
        if len(dirty) == 0:
            return
        text = self.text
        objs = self._objs
        for sid, ts, value, kind, quality in zip(
            dirty.tolist(),
            self.ts[dirty].tolist(),
            self.value[dirty].tolist(),
            self.kind[dirty].tolist(),
            self.quality[dirty].tolist(),
            strict=True,
        ):
            asset, tag = keys[sid]
            if kind != KIND_FLOAT:
                value = decode_value(value, text.get(sid), kind)
            qual = _QUALITY[quality] if quality in _QUALITY else quality_of(quality)
            objs[sid] = Sample(asset, tag, ts, value, qual)
        self._dirty[dirty] = False
