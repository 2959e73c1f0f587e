"""A circuit breaker per peer: after repeated failures, stop calling for a while rather than queue waits."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class CircuitBreaker:
    failures_to_open: int
    cooldown_seconds: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self) -> bool:
        """Closed: yes. Open: no, until the cooldown has passed; then one trial call (half-open)."""
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at >= self.cooldown_seconds:
            self.opened_at = time.monotonic()  # the next trial waits for another cooldown if this one fails
            return True
        return False

    def record_success(self) -> None:
        self.failures, self.opened_at = 0, None

    def record_failure(self) -> None:
        self.failures += 1
        if self.failures >= self.failures_to_open:
            self.opened_at = time.monotonic()

    @property
    def state(self) -> str:
        return "closed" if self.opened_at is None else "open"
