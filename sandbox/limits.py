"""Back Market's rate limits, per token, in sliding windows of scaled time."""

from collections import Counter, deque
from dataclasses import dataclass, field

from sandbox.clock import Clock
from sandbox.config import RateWindow, SandboxLimits

GENERAL = "general"
CATALOG = "catalog"
SKU_LINES = "sku_lines"
SAV_LIST = "sav_list"
SAV_DETAIL = "sav_detail"
BACKBOX = "backbox"


@dataclass
class _Window:
    """The admitted costs within one sliding window."""

    limit: RateWindow
    events: deque[tuple[float, int]] = field(default_factory=deque)
    used: int = 0

    def room(self, now: float, span: float) -> int:
        while self.events and self.events[0][0] <= now - span:
            _, cost = self.events.popleft()
            self.used -= cost
        return self.limit.requests - self.used

    def add(self, now: float, cost: int) -> None:
        self.events.append((now, cost))
        self.used += cost


class RateLimiter:
    """Admits or refuses requests per token and scope; counts what it refused."""

    def __init__(self, limits: SandboxLimits, clock: Clock) -> None:
        self.clock = clock
        self.limits = limits
        self.refused: Counter[tuple[str, str]] = Counter()
        self._windows: dict[tuple[str, str], list[_Window]] = {}
        self._blocked_until: dict[str, float] = {}

    def configure(self, limits: SandboxLimits) -> None:
        """Replace the limits and forget every window and block."""
        self.limits = limits
        self._windows.clear()
        self._blocked_until.clear()

    def admit_request(self, token: str, scope: str | None) -> str | None:
        """Count one request; answer the scope that refused it, or None."""
        if not self.limits.enabled:
            return None
        now = self.clock.monotonic()
        if self._blocked_until.get(token, 0.0) > now:
            return self._refuse(token, GENERAL)
        general = self._window(token, GENERAL, [self.limits.general])
        if not self._fits(general, now, 1):
            # Back Market blocks the token for a while once it exceeds the budget.
            block = self.clock.scaled(self.limits.general_block_s)
            self._blocked_until[token] = now + block
            return self._refuse(token, GENERAL)
        self._add(general, now, 1)
        if scope is None:
            return None
        return self.admit(token, scope, 1)

    def admit(self, token: str, scope: str, cost: int) -> str | None:
        """Spend `cost` of a scope's budget; answer the scope if refused."""
        if not self.limits.enabled:
            return None
        now = self.clock.monotonic()
        windows = self._window(token, scope, self._limits_of(scope))
        if not self._fits(windows, now, cost):
            return self._refuse(token, scope)
        self._add(windows, now, cost)
        return None

    def _limits_of(self, scope: str) -> list[RateWindow]:
        limits = self.limits
        if scope == CATALOG:
            return [limits.catalog]
        if scope == SKU_LINES:
            return [limits.sku_lines]
        if scope == SAV_LIST:
            return list(limits.sav_list)
        if scope == SAV_DETAIL:
            return list(limits.sav_detail)
        if scope == BACKBOX:
            return [limits.backbox]
        return [limits.general]

    def _window(
        self, token: str, scope: str, limits: list[RateWindow]
    ) -> list[_Window]:
        key = (token, scope)
        if key not in self._windows:
            self._windows[key] = [_Window(limit) for limit in limits]
        return self._windows[key]

    def _fits(self, windows: list[_Window], now: float, cost: int) -> bool:
        return all(
            w.room(now, self.clock.scaled(w.limit.per_s)) >= cost for w in windows
        )

    def _add(self, windows: list[_Window], now: float, cost: int) -> None:
        for window in windows:
            window.add(now, cost)

    def _refuse(self, token: str, scope: str) -> str:
        self.refused[(token, scope)] += 1
        return scope
