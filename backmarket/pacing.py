"""Client-side pacing of Back Market requests, per token.

Back Market documents its budgets but sends no rate-limit headers and no `Retry-After`,
and a token that goes over is blocked for seconds. So every request first takes room
in sliding windows kept here, shared by every client of the same token in the process
(see `pacer_for_token`), and the budgets are aimed a little under the documented ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Scope(StrEnum):
    """A budget a request counts against."""

    GENERAL = "general"
    CATALOG = "catalog"
    SKU_LINES = "sku_lines"
    BACKBOX = "backbox"
    CARE_LIST = "care_list"
    CARE_DETAIL = "care_detail"


class Budget(BaseModel):
    """At most `units` in any `window_s` seconds."""

    model_config = ConfigDict(frozen=True)

    units: int = Field(gt=0)
    window_s: float = Field(gt=0)


MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


class Limits(BaseModel):
    """The budgets of one token; defaults are Back Market's documented limits."""

    model_config = ConfigDict(frozen=True)

    general: tuple[Budget, ...] = (Budget(units=200, window_s=10),)
    catalog: tuple[Budget, ...] = (Budget(units=20, window_s=10),)
    sku_lines: tuple[Budget, ...] = (Budget(units=2000, window_s=HOUR),)
    backbox: tuple[Budget, ...] = (Budget(units=2, window_s=1),)
    care_list: tuple[Budget, ...] = (
        Budget(units=520, window_s=MINUTE),
        Budget(units=4000, window_s=DAY),
    )
    care_detail: tuple[Budget, ...] = (
        Budget(units=600, window_s=MINUTE),
        Budget(units=40000, window_s=DAY),
    )
    # Aim under each budget: Back Market's counting and ours never agree exactly.
    safety: float = Field(default=0.95, gt=0, le=1)
    # Multiplies every window and the 429 block, so tests and the sandbox can run
    # a day's worth of pacing in moments.
    time_scale: float = Field(default=1.0, gt=0)
    # Back Market blocks a token this long after a 429.
    block_after_429_s: float = Field(default=10.0, ge=0)

    def budgets(self, scope: Scope) -> tuple[Budget, ...]:
        result: tuple[Budget, ...] = getattr(self, scope.value)
        return result


class SkuLinesExceedBudget(ValueError):
    """One request would need more SKU lines than the whole hourly budget holds."""


class Pacer:
    """Sliding-window budgets for one token.

    The check-and-record step never awaits, so concurrent tasks on one event loop
    cannot both take the last unit; the threading lock only guards against workers
    that run clients on several threads or loops in one process.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._windows: dict[Scope, list[_Window]] = {
            scope: [
                _Window(
                    capacity=max(1, math.floor(b.units * self.limits.safety)),
                    span=b.window_s * self.limits.time_scale,
                )
                for b in self.limits.budgets(scope)
            ]
            for scope in Scope
        }
        self._blocked_until = -math.inf

    async def acquire(self, *scopes: Scope, sku_lines: int = 0) -> float:
        """Wait until the request fits every budget, take its room; seconds waited.

        `GENERAL` always counts; `sku_lines` > 0 also counts against `SKU_LINES`.
        """
        waited, _ = await self._take(self._needs(scopes, sku_lines))
        return waited

    @asynccontextmanager
    async def slot(self, *scopes: Scope, sku_lines: int = 0) -> AsyncIterator[float]:
        """Hold room for one request while it is in flight; yields seconds waited.

        Back Market counts a request when it arrives, which may be later than when
        it was let through here. Its room is therefore dated again when the answer
        is back, and frees up one full window after that.
        """
        waited, taken = await self._take(self._needs(scopes, sku_lines))
        try:
            yield waited
        finally:
            with self._lock:
                now = self._clock()
                for window, entry in taken:
                    window.settle(entry, now)

    async def _take(
        self, needs: dict[Scope, int]
    ) -> tuple[float, list[tuple[_Window, _Entry]]]:
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay(needs)
                if delay <= 0:
                    now = self._clock()
                    taken = [
                        (window, window.record(now, units))
                        for scope, units in needs.items()
                        for window in self._windows[scope]
                    ]
                    return waited, taken
            await self._sleep(delay)
            waited += delay

    def wait_for_sku_lines(self, lines: int) -> float:
        """Seconds until `lines` SKU lines fit the budget (0 when they fit now).

        Lets a caller choose between single updates and one bulk upload.
        """
        needs = self._needs((), lines)
        with self._lock:
            return max(0.0, self._delay(needs))

    def sku_lines_capacity(self) -> int:
        """The most SKU lines one request may carry under the configured budget."""
        return min(w.capacity for w in self._windows[Scope.SKU_LINES])

    def block(self, seconds: float | None = None) -> None:
        """Hold every request of this token back, as Back Market does after a 429."""
        span = self.limits.block_after_429_s if seconds is None else seconds
        with self._lock:
            until = self._clock() + span * self.limits.time_scale
            self._blocked_until = max(self._blocked_until, until)

    def _needs(self, scopes: Iterable[Scope], sku_lines: int) -> dict[Scope, int]:
        needs = {Scope.GENERAL: 1}
        for scope in scopes:
            if scope is not Scope.SKU_LINES:
                needs[scope] = 1
        if sku_lines < 0:
            raise ValueError("sku_lines must not be negative")
        if sku_lines:
            capacity = self.sku_lines_capacity()
            if sku_lines > capacity:
                raise SkuLinesExceedBudget(
                    f"{sku_lines} SKU lines exceed the budget of {capacity} per "
                    "window; split the update"
                )
            needs[Scope.SKU_LINES] = sku_lines
        return needs

    def _delay(self, needs: dict[Scope, int]) -> float:
        now = self._clock()
        delay = self._blocked_until - now
        for scope, units in needs.items():
            for window in self._windows[scope]:
                delay = max(delay, window.delay(now, units))
        return delay


class _Entry:
    """Room taken in a window; compared by identity, as two may look alike."""

    __slots__ = ("stamp", "units")

    def __init__(self, stamp: float, units: int) -> None:
        self.stamp = stamp
        self.units = units


class _Window:
    """One sliding window: the (time, units) of requests in the last `span` seconds."""

    def __init__(self, capacity: int, span: float) -> None:
        self.capacity = capacity
        self.span = span
        self._entries: deque[_Entry] = deque()
        self._used = 0

    def delay(self, now: float, units: int) -> float:
        """Seconds until `units` more fit; 0 when they fit now."""
        self._expire(now)
        excess = self._used + units - self.capacity
        if excess <= 0:
            return 0.0
        freed = 0
        for entry in self._entries:
            freed += entry.units
            if freed >= excess:
                # An entry stamped t counts until t + span inclusive.
                return entry.stamp + self.span - now + _EPSILON * self.span
        return self.span  # unreachable while units <= capacity

    def record(self, now: float, units: int) -> _Entry:
        entry = _Entry(now, units)
        self._entries.append(entry)
        self._used += units
        return entry

    def settle(self, entry: _Entry, now: float) -> None:
        """Date an entry again at `now`; it moves to the end, keeping the order."""
        try:
            self._entries.remove(entry)
        except ValueError:
            # It expired while in flight; Back Market may count it only now.
            self._used += entry.units
        entry.stamp = now
        self._entries.append(entry)

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0].stamp + self.span < now:
            self._used -= self._entries.popleft().units


# Added to computed waits so a sleep that wakes a hair early does not spin.
_EPSILON = 1e-6


_registry: dict[str, Pacer] = {}
_registry_lock = threading.Lock()


def pacer_for_token(token: str, limits: Limits | None = None) -> Pacer:
    """The process-wide pacer of `token`, created on first use.

    Keyed by a hash so the registry never holds the token. Later callers share the
    first pacer; limits they pass that differ are ignored with a warning.
    """
    key = hashlib.sha256(token.encode()).hexdigest()
    with _registry_lock:
        pacer = _registry.get(key)
        if pacer is None:
            pacer = _registry[key] = Pacer(limits)
        elif limits is not None and limits != pacer.limits:
            logger.warning(
                "pacer already exists for this token; keeping its limits",
                extra={"token_hash": key[:12]},
            )
        return pacer
