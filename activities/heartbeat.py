"""Heartbeats for activities that wait on Back Market, so a dead worker shows fast.

Without them Temporal learns that a worker died mid-call only when the call's whole
start-to-close timeout has passed; with them, after the heartbeat timeout.
"""

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from temporalio import activity

P = ParamSpec("P")
R = TypeVar("R")

# Well inside the heartbeat timeout the workflows set (workflows/policies.py).
BEAT_EVERY_S = 3.0


def heartbeats(
    function: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R]]:
    """Heartbeat every few seconds for as long as the activity runs."""

    @functools.wraps(function)
    async def beating(*args: P.args, **kwargs: P.kwargs) -> R:
        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(BEAT_EVERY_S)

        task = asyncio.create_task(beat())
        try:
            return await function(*args, **kwargs)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return beating
