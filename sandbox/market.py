"""Simulated customers: they order online listings, cancel, and open care folders.

Every choice comes from one generator seeded with the sandbox's seed, and candidates are
taken in id order, so the same seed and the same sequence of steps over the same state
give the same orders. Timing uses a second generator, so when steps happen never changes
what they do.
"""

import asyncio
import contextlib
import logging
import random
from typing import Any

from sandbox.errors import ApiError
from sandbox.state import SandboxState

log = logging.getLogger(__name__)

ISSUES = ("SCREEN_DEFECT", "BATTERY_DRAIN", "NO_SOUND", "CAMERA_BLURRY", "NOT_CHARGING")
RESOLUTIONS = ("REPAIR", "REPLACE", "REFUND", "REPAIR_REPLACE")


class MarketSimulator:
    """Steps the market by hand, or in the background at the configured rate."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        seed = state.config.seed
        self.rng = random.Random(f"{seed}:market")
        self._timing = random.Random(f"{seed}:market-timing")
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the background loop is on."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Run the loop on the current event loop until `stop`."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the loop and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def step(self) -> list[dict[str, Any]]:
        """One customer orders; maybe another cancels, maybe another opens care."""
        market = self.state.config.market
        events = []
        order = self._place_order(market.multi_line_share)
        if order is not None:
            events.append(order)
        if self.rng.random() < market.cancel_share:
            cancelled = self._cancel_line()
            if cancelled is not None:
                events.append(cancelled)
        if self.rng.random() < market.care_folder_share:
            opened = self._open_care()
            if opened is not None:
                events.append(opened)
        return events

    async def _run(self) -> None:
        while True:
            rate = self.state.config.market.orders_per_minute
            if rate <= 0:
                await asyncio.sleep(1)
                continue
            mean = self.state.clock.scaled(60 / rate)
            await asyncio.sleep(self._timing.expovariate(1 / mean))
            try:
                for event in self.step():
                    log.info("market event %s", event["event"], extra=event)
            except ApiError:
                # A listing can go offline between choice and order; the next step
                # simply tries again.
                log.debug("market step refused", exc_info=True)

    def _place_order(self, multi_line_share: float) -> dict[str, Any] | None:
        state = self.state
        merchant = self.rng.choice(sorted(state.merchants))
        online = [
            listing
            for listing in state.list_listings(merchant, publication_state=2)
            if listing.quantity >= 1
        ]
        if not online:
            return None
        size = 1
        if self.rng.random() < multi_line_share:
            size = self.rng.choice((2, 2, 3))
        chosen = self.rng.sample(online, min(size, len(online)))
        lines = []
        for listing in chosen:
            two = listing.quantity >= 2 and self.rng.random() < 0.05
            lines.append((listing.sku, 2 if two else 1))
        order = state.place_order(merchant, lines, rng=self.rng)
        return {"event": "order", "merchant": merchant, "order_id": order.order_id}

    def _cancel_line(self) -> dict[str, Any] | None:
        with self.state.lock:
            waiting = sorted(
                line_id
                for line_id, (order, line) in self.state.lines.items()
                if line.state == 1 and order.state == 1
            )
            if not waiting:
                return None
            line_id = self.rng.choice(waiting)
            order = self.state.customer_cancel(line_id)
            return {"event": "cancel", "order_id": order.order_id, "line": line_id}

    def _open_care(self) -> dict[str, Any] | None:
        with self.state.lock:
            with_care = {folder.line.id for folder in self.state.care_folders.values()}
            shipped = sorted(
                line_id
                for line_id, (_, line) in self.state.lines.items()
                if line.state == 3 and line_id not in with_care
            )
            if not shipped:
                return None
            line_id = self.rng.choice(shipped)
            folder = self.state.open_care_folder(
                line_id,
                return_label=self.rng.random() < 0.8,
                issue=self.rng.choice(ISSUES),
                resolution_choice=self.rng.choice(RESOLUTIONS),
            )
            return {"event": "care", "folder": folder.id, "line": line_id}
