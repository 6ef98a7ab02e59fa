"""Seeded misbehaviour for chosen endpoints: 5xx, latency, hangs, lost responses."""

import random
import re
from dataclasses import dataclass
from typing import Literal

from sandbox.config import FaultRule

FaultKind = Literal["error", "timeout", "lost"]


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request."""

    rule: FaultRule
    index: int
    kind: FaultKind | None
    latency_s: float


class FaultInjector:
    """Draws, per matching request, from one seeded generator per rule."""

    def __init__(self, rules: list[FaultRule], seed: int) -> None:
        self.seed = seed
        self.rules: list[FaultRule] = []
        self._compiled: list[tuple[re.Pattern[str], random.Random]] = []
        self.configure(rules)

    def configure(self, rules: list[FaultRule]) -> None:
        """Replace the rules; generators restart from the seed."""
        self.rules = [rule.model_copy() for rule in rules]
        self._compiled = [
            (re.compile(rule.path), random.Random(f"{self.seed}:fault:{index}"))
            for index, rule in enumerate(self.rules)
        ]

    def decide(self, method: str, path: str) -> FaultDecision | None:
        """The fault for this request from the first matching rule, if any."""
        for index, rule in enumerate(self.rules):
            pattern, rng = self._compiled[index]
            if rule.method not in ("*", method.upper()):
                continue
            if not pattern.fullmatch(path):
                continue
            if rule.remaining == 0:
                continue
            draw = rng.random()
            kind: FaultKind | None = None
            if draw < rule.error_rate:
                kind = "error"
            elif draw < rule.error_rate + rule.timeout_rate:
                kind = "timeout"
            elif draw < rule.error_rate + rule.timeout_rate + rule.lost_response_rate:
                kind = "lost"
            if kind is None and rule.latency_s == 0:
                return None
            if rule.remaining is not None:
                rule.remaining -= 1
            return FaultDecision(rule, index, kind, rule.latency_s)
        return None
