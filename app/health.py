"""Liveness and readiness: GET /healthz (the process answers) and GET /readyz (it can serve:
the database answers, the views are close enough to the events, and whatever else registered
a check, e.g. a webhook dispatcher where one runs). No key needed, and no workspace's data in
either answer: only positions and yes or no."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.positions import read_positions
from app.runtime import Herald

log = logging.getLogger(__name__)
_CHECK_TIMEOUT = 5.0

Detail = dict[str, int | str | bool]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: Detail = field(default_factory=dict)


Check = Callable[[], Verdict]


class Readiness:
    """The checks one Herald must pass to be ready, run in the order added."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        """e.g. `readiness(herald).add("dispatcher", lambda: Verdict(dispatcher.alive))`."""
        self._checks[name] = check

    def run(self) -> tuple[bool, dict[str, Detail]]:
        answers: dict[str, Detail] = {}
        for name, check in list(self._checks.items()):
            try:
                verdict = check()
            except Exception as error:
                log.warning("readiness check %s failed", name, exc_info=True)
                verdict = Verdict(False, {"error": type(error).__name__})
            answers[name] = {"ok": verdict.ok, **verdict.detail}
        return all(bool(a["ok"]) for a in answers.values()), answers


_REGISTRIES: weakref.WeakKeyDictionary[Herald, Readiness] = weakref.WeakKeyDictionary()


def readiness(herald: Herald) -> Readiness:
    """The readiness checks of `herald`, with the database, views and watcher ones built in."""
    found = _REGISTRIES.get(herald)
    if found is None:
        found = _REGISTRIES[herald] = Readiness()
        _builtin(herald, found)
    return found


def _builtin(herald: Herald, checks: Readiness) -> None:
    def database() -> Verdict:
        herald.store.db.read_one("SELECT 1", ())
        return Verdict(True)

    def views() -> Verdict:
        positions = read_positions(herald)
        most = herald.settings.ready_max_lag
        return Verdict(
            positions.lag() <= most,
            {
                "events": positions.events,
                "views": positions.views,
                "lag": positions.lag(),
                "max_lag": most,
            },
        )

    def watcher() -> Verdict:
        alive = herald.watcher.alive
        return Verdict(alive, {"listening": herald.watcher.listening} if alive else {})

    def webhooks() -> Verdict:
        dispatcher = herald.webhooks.dispatcher
        return Verdict(dispatcher.alive, {"leading": dispatcher.leader})

    checks.add("database", database)
    checks.add("views", views)
    checks.add("watcher", watcher)
    if herald.dispatch:  # a process that runs a dispatcher: it must be alive, leading or not
        checks.add("webhooks", webhooks)


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    herald: Herald = request.app.state.herald
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            ready, checks = await asyncio.to_thread(readiness(herald).run)
    except TimeoutError:
        return JSONResponse({"status": "not ready", "checks": {}, "timeout": True}, 503)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )
