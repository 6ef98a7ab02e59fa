"""The sandbox's clocks: wall time for timestamps, scaled monotonic time for windows."""

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Reads time for the sandbox; `scale` shortens every window and delay.

    A duration `d` of Back Market time lasts `d * scale` real seconds. Timestamps shown
    to clients are real UTC wall time, made strictly increasing so that lower-bound
    filters on them behave.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._last_stamp = datetime.fromtimestamp(0, UTC)

    def monotonic(self) -> float:
        """Seconds on a monotonic clock, in real time."""
        return time.monotonic()

    def scaled(self, seconds: float) -> float:
        """Real seconds that a Back Market duration of `seconds` lasts here."""
        return seconds * self.scale

    def now(self) -> datetime:
        """The current UTC time, never equal to or before the previous reading."""
        stamp = datetime.now(UTC)
        if stamp <= self._last_stamp:
            stamp = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = stamp
        return stamp
