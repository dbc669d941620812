"""HERALD_WEBHOOK_* settings: where the dispatcher runs, which addresses it may call, and its
retry schedule, timeout and limits."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# The Standard Webhooks schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_ATTEMPTS = 20
_DAY = 86_400.0


@dataclass(frozen=True)
class WebhookSettings:
    dispatch: bool = True  # `herald serve` runs the dispatcher (one process at a time does)
    allow_private: bool = False  # http, and loopback or private addresses, are allowed
    schedule: tuple[float, ...] = SCHEDULE  # seconds before each attempt, the first included
    jitter: float = 0.1  # each delay is stretched by up to this fraction, at random
    timeout: float = 15.0  # seconds for a whole attempt: connect, send, answer
    disable_after: float = 5 * _DAY  # failing this long, with no success, disables an endpoint
    concurrency: int = 8  # deliveries in flight per endpoint
    secret_overlap: float = _DAY  # the previous secret still signs this long after a rotation

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookSettings:
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            return _float(f"HERALD_WEBHOOK_{name}", env.get(f"HERALD_WEBHOOK_{name}") or default)

        schedule = env.get("HERALD_WEBHOOK_RETRY_SCHEDULE")
        made = cls(
            dispatch=(env.get("HERALD_WEBHOOK_DISPATCH") or "1") not in ("0", "false"),
            allow_private=(env.get("HERALD_WEBHOOK_ALLOW_PRIVATE") or "0") in ("1", "true"),
            schedule=SCHEDULE
            if not schedule
            else tuple(
                _float("HERALD_WEBHOOK_RETRY_SCHEDULE", s) for s in schedule.split(",") if s.strip()
            ),
            jitter=number("JITTER", 0.1),
            timeout=number("TIMEOUT", 15),
            disable_after=number("DISABLE_AFTER", 5 * _DAY),
            concurrency=int(number("CONCURRENCY", 8)),
            secret_overlap=number("SECRET_OVERLAP", _DAY),
        )
        made.check()
        return made

    def check(self) -> None:
        if not 1 <= len(self.schedule) <= MAX_ATTEMPTS or min(self.schedule) < 0:
            raise ValueError(
                f"HERALD_WEBHOOK_RETRY_SCHEDULE: 1 to {MAX_ATTEMPTS} delays of 0 seconds or more"
            )
        if self.timeout <= 0 or self.concurrency < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("HERALD_WEBHOOK_TIMEOUT > 0, _CONCURRENCY >= 1, 0 <= _JITTER <= 1")


def _float(name: str, value: str | float) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a number") from None
