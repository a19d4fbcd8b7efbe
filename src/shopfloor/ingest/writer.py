"""Writers: drain a bus subject into a store in batches.

:class:`StoreWriter` takes ``samples`` into a :class:`TimeSeriesStore`;
:class:`DeadLetterWriter` takes ``deadletters`` into the state store. Both buffer what they
receive and write it at least every ``flush_interval_s``, as soon as ``flush_rows`` are
buffered, and on :meth:`stop`.

With ``durable=True`` (a durable bus such as NATS JetStream, which acknowledges a batch when
the next one is asked for) each batch is written before the next is taken, so a batch is
acknowledged only after its store commit; a crash before that gets it redelivered, and the
idempotent stores keep a redelivered point from being stored twice.

Nothing is dropped silently: when a write fails with a :class:`StoreError` the batch goes
back to the front of the buffer, the failure is logged and counted, and the write is
retried with exponential backoff. While the buffer is at its bound (``max_buffer_rows``) the
writer stops taking batches off the bus, so back-pressure reaches ingest instead of memory
growing without end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from ..bus.base import Bus, Subscription, drain_and_stop
from ..core.errors import StoreError
from ..core.sample import DeadLetter, Sample
from ..store.base import TimeSeriesStore

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_MAX_S = 30.0


class DeadLetterSink(Protocol):
    async def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int: ...


class _BatchWriter(Generic[T]):
    subject = ""
    what = "items"

    def __init__(
        self,
        bus: Bus,
        flush_interval_s: float = 1.0,
        flush_rows: int = 50_000,
        *,
        max_buffer_rows: int | None = None,
        name: str = "",
        stop_timeout_s: float = 10.0,
        durable: bool = False,
    ) -> None:
        self.bus = bus
        self.durable = durable
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self.max_buffer_rows = max_buffer_rows or max(4 * flush_rows, 200_000)
        self.name = name or f"{self.subject}-writer"
        self.stop_timeout_s = stop_timeout_s
        self._buffer: list[T] = []
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._flush_lock = asyncio.Lock()
        self._failures = 0  # consecutive
        self._retry_at = 0.0
        self.written = 0
        self.write_errors = 0
        self.flushes = 0
        self.last_error: str | None = None

    async def _write(self, batch: list[T]) -> int:
        raise NotImplementedError

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._sub = self.bus.subscribe(self.subject, self.name)
        self._tasks = [
            asyncio.create_task(self._consume(), name=f"{self.name}-consume"),
            asyncio.create_task(self._tick(), name=f"{self.name}-tick"),
        ]

    async def stop(self) -> None:
        """Take what is still queued on the bus, write everything buffered, then stop."""
        sub = self._sub
        if sub is None:
            return
        deadline = time.monotonic() + self.stop_timeout_s
        consume, tick = self._tasks
        await drain_and_stop(sub, consume, tick, deadline)
        self._tasks = []
        self._sub = None
        while self._buffer and time.monotonic() < deadline:
            if not await self.flush():
                await asyncio.sleep(min(0.5, max(0.0, self._retry_at - time.monotonic())))
        if self._buffer:
            log.error(
                "%s stopped with %d %s not written: %s",
                self.name,
                len(self._buffer),
                self.what,
                self.last_error,
            )

    # -- work ---------------------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self._sub is not None
        async for batch in self._sub:
            self._buffer.extend(batch)
            if self.durable:
                # A durable bus acknowledges a batch when the next one is asked for: write this
                # one (retrying with backoff) before asking, so nothing is acked uncommitted.
                while self._buffer:
                    if not await self.flush():
                        await asyncio.sleep(max(0.01, self._retry_at - time.monotonic()))
                continue
            if len(self._buffer) >= self.flush_rows:
                await self.flush()
            while len(self._buffer) >= self.max_buffer_rows:  # store is failing: hold back the bus
                await asyncio.sleep(max(0.01, self._retry_at - time.monotonic()))
                await self.flush()
        await self.flush()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            if self._buffer and not self._flush_lock.locked():
                await self.flush()

    async def flush(self) -> bool:
        """Write the buffer now (one batch); ``False`` if the write failed (kept for retry)."""
        async with self._flush_lock:
            if not self._buffer:
                return True
            if self._failures and time.monotonic() < self._retry_at:
                return False
            batch, self._buffer = self._buffer, []
            try:
                n = await self._write(batch)
            except StoreError as err:
                self._buffer[:0] = batch
                self._failures += 1
                self.write_errors += 1
                self.last_error = str(err)
                delay = min(BACKOFF_MAX_S, 0.1 * 2 ** min(self._failures, 10))
                self._retry_at = time.monotonic() + delay
                log.warning(
                    "%s: writing %d %s failed (attempt %d, retry in %.1f s): %s",
                    self.name,
                    len(batch),
                    self.what,
                    self._failures,
                    delay,
                    err,
                )
                return False
            if self._failures:
                log.info("%s: writes recovered after %d failures", self.name, self._failures)
            self._failures = 0
            self.written += n
            self.flushes += 1
            return True

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def stats(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "write_errors": self.write_errors,
            "flushes": self.flushes,
            "buffered": len(self._buffer),
            "last_error": self.last_error,
        }


class StoreWriter(_BatchWriter[Sample]):
    """Bus ``samples`` -> :meth:`TimeSeriesStore.write`, in batches."""

    subject = "samples"
    what = "samples"

    def __init__(
        self,
        bus: Bus,
        store: TimeSeriesStore,
        flush_interval_s: float = 1.0,
        flush_rows: int = 50_000,
        **kw: Any,
    ) -> None:
        super().__init__(bus, flush_interval_s, flush_rows, **kw)
        self.store = store

    async def _write(self, batch: list[Sample]) -> int:
        return await self.store.write(batch)


class DeadLetterWriter(_BatchWriter[DeadLetter]):
    """Bus ``deadletters`` -> ``StateStore.add_dead_letters``, in batches."""

    subject = "deadletters"
    what = "dead letters"

    def __init__(
        self,
        bus: Bus,
        state: DeadLetterSink,
        flush_interval_s: float = 1.0,
        flush_rows: int = 1_000,
        **kw: Any,
    ) -> None:
        super().__init__(bus, flush_interval_s, flush_rows, **kw)
        self.state = state

    async def _write(self, batch: list[DeadLetter]) -> int:
        return await self.state.add_dead_letters(batch)
