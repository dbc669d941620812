"""`herald serve`: uvicorn with a worker process per core by default, and the webhook dispatcher
in a process of its own beside them.

Every worker serves every request: reads see what any worker wrote (the views are committed
with the events), subscriptions hear the others' writes through the database, revocations reach
them all. What each worker keeps in memory alone (rate and cost budgets, caps on connections and
subscriptions) is the configured figure divided by the number of workers, so that together they
allow what the setting says. Only one dispatcher sends webhooks: sharing a worker's interpreter
with requests, it could not keep up with them; beside them it does (bench/RESULTS.md)."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from app.settings import Settings
from app.transport import served_options

log = logging.getLogger(__name__)
_RESTART_PAUSE = 1.0


def serve(host: str, port: int, workers: int, *, projections: bool, log_format: str) -> int:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    os.environ["HERALD_WORKERS"] = str(workers)
    if not projections:
        os.environ["HERALD_SERVE_PROJECTIONS"] = "0"
    dispatch = Settings.from_env().webhooks.dispatch
    # The workers leave webhooks to the dispatcher started below.
    os.environ["HERALD_WEBHOOK_DISPATCH"] = "0"
    with _metrics_across_workers(workers), _dispatcher(dispatch):
        uvicorn.run(
            "app.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # JSON logs: uvicorn's lines go through Herald's handler, not its own.
            log_config=None if log_format == "json" else LOGGING_CONFIG,
            # A deadline for request headers, and the WebSocket message limit (app.transport).
            **served_options(),
        )
    return 0


def die_with_parent() -> None:
    """In a worker or the dispatcher: be stopped (SIGTERM) when `herald serve` itself dies,
    even by kill -9, rather than serve on unsupervised. Linux only; elsewhere a no-op."""
    if multiprocessing.parent_process() is None and os.environ.get("HERALD_CHILD") != "1":
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


@contextlib.contextmanager
def _metrics_across_workers(workers: int) -> Iterator[None]:
    """Several processes keep their metrics in files of one folder (prometheus_client's
    multi-process mode), so any worker's /metrics counts them all. The folder is
    PROMETHEUS_MULTIPROC_DIR if set, else a new one, removed at exit; either way emptied of a
    previous run's files first."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers <= 1 and not given:
        yield
        return
    folder = given or tempfile.mkdtemp(prefix="herald-metrics-")
    os.makedirs(folder, exist_ok=True)
    for old in Path(folder).glob("*.db"):
        old.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _dispatcher(wanted: bool) -> Iterator[None]:
    """`herald dispatch` as a child, started again if it dies, stopped with the server."""
    if not wanted:
        yield
        return
    stopping = threading.Event()
    child: list[subprocess.Popen[bytes]] = []

    def keep_running() -> None:
        # This thread starts the child and lives as long as it: the child's death signal is
        # tied to the thread that started it.
        while not stopping.is_set():
            env = {**os.environ, "HERALD_WEBHOOK_DISPATCH": "1", "HERALD_CHILD": "1"}
            # A group of its own: a Ctrl-C at the terminal stops the server, which stops it.
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "dispatch"], env=env, process_group=0
            )
            child[:] = [process]
            code = process.wait()
            if not stopping.is_set():
                log.error("the webhook dispatcher exited (%s); starting it again", code)
                stopping.wait(_RESTART_PAUSE)

    supervisor = threading.Thread(target=keep_running, name="herald-dispatcher", daemon=True)
    supervisor.start()
    try:
        yield
    finally:
        stopping.set()
        for process in child:
            if process.poll() is None:
                process.terminate()
        supervisor.join(timeout=30)
