"""Rate limits as token buckets of cost points, one per key (an API key's digest, or a client's
address), in this process.

A bucket holds up to `burst` points and refills at `rate` points a second; an operation takes its
price before it runs and gets back what it did not use (GitHub's and Shopify's model). Each
process keeps its own buckets: the limits protect a process's own event loop and threads, and
capacity grows with the processes, so each process gives every key the whole rate."""

from __future__ import annotations

import threading
import time

from app.errors import LimitExceeded

_IDLE = 60.0  # seconds after which a full bucket is forgotten
_KEEP = 100_000  # buckets remembered at once before idle ones are forgotten


class RateLimited(LimitExceeded):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def extensions(self) -> dict[str, object]:
        return {**super().extensions(), "retryAfter": round(self.retry_after, 1)}


class RateLimiter:
    """`rate` points a second on average, up to `burst` at once; rate 0 turns it off."""

    def __init__(self, rate: float, burst: int, what: str = "this key") -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.what = what
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (points, last refill)
        self._until: dict[str, float] = {}  # key -> when its last refusal said to retry
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        points, last = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), points + (now - last) * self.rate)

    def take(self, key: str, points: int = 1) -> None:
        """Take `points`, or refuse with the time until they are there. More than the burst is
        never there: such an operation is refused here, and its price by the cost budget."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            level = self._level(key, now)
            if level < points:
                self._buckets[key] = (level, now)
                wait = (points - level) / self.rate
                self._until[key] = now + wait
                raise RateLimited(f"too many requests for {self.what}; retry in {wait:.1f}s", wait)
            self._buckets[key] = (level - points, now)
            if len(self._buckets) > _KEEP:
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < _IDLE}
                self._until = {k: t for k, t in self._until.items() if t > now}

    def spend(self, key: str, points: int = 1) -> None:
        """Take `points` even if that leaves the bucket in debt: for work already done."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._buckets[key] = (self._level(key, now) - points, now)

    def give_back(self, key: str, points: int) -> None:
        if self.rate <= 0 or points <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._buckets[key] = (min(float(self.burst), self._level(key, now) + points), now)

    def available(self, key: str) -> float:
        if self.rate <= 0:
            return float(self.burst)
        with self._lock:
            return self._level(key, time.monotonic())

    def check(self, key: str) -> None:
        """Refuse at once, taking nothing, while the bucket is empty or the last refusal's
        Retry-After has not passed: a client that does not wait is turned away at the door,
        before its request is parsed, priced or looked up."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            wait = max((1 - self._level(key, now)) / self.rate, self._until.get(key, now) - now)
        if wait > 0:
            raise RateLimited(f"too many requests for {self.what}; retry in {wait:.1f}s", wait)
