"""Real Herald processes for the tests: `herald serve` and `herald project` as subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def herald_env(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "HERALD_DATABASE_URL": database_url, **extra}


def herald_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=herald_env(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def create_key(database_url: str, workspace: str) -> str:
    done = herald_cli(database_url, "keys", "create", "--workspace", workspace)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


class HeraldProcess:
    """One `herald` process; its output goes to a log file the test can show on failure."""

    def __init__(self, database_url: str, log: Path, *args: str) -> None:
        self.log_path = log
        self._log: IO[bytes] = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            env=herald_env(database_url),
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class ServerProcess(HeraldProcess):
    def __init__(self, database_url: str, log: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(database_url, log, "serve", "--port", str(self.port), *extra)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a starting process's port; not hiding a race
        raise AssertionError(f"the server did not start:\n{self.output()}")
