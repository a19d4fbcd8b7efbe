"""Small asyncio helpers shared by the long-running parts of the platform and the edge agent."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has finished; its CancelledError is absorbed.

    >>> async def demo():
    ...     t = asyncio.create_task(asyncio.sleep(10))
    ...     await cancel_and_wait(t)
    ...     return t.cancelled()
    >>> asyncio.run(demo())
    True
    """
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
