"""Server processes on loopback ports: started, awaited until they answer, measured, stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from bench.loadgen import Request

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def post(request: Request, timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(
        request.url,
        data=request.body,
        headers={"Content-Type": "application/json", **request.headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status: int = response.status
            return status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def answers(request: Request) -> bool:
    """True when the request gets a 200 with data and no GraphQL errors."""
    status, body = post(request)
    if status != 200:
        return False
    parsed = json.loads(body)
    return isinstance(parsed, dict) and "errors" not in parsed and bool(parsed.get("data"))


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


class Server:
    """A process serving HTTP on `port`; its output goes to `log`."""

    def __init__(
        self, name: str, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log = log
        self.env = python_env(env)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def start(self, probe: Request | None = None, timeout: float = 60.0) -> Server:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            try:
                if probe is None:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
                elif answers(probe):
                    return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)  # polling a real condition (the port answers) with a deadline
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout}s; see {self.log}")

    def peak_rss_kib(self, *, tree: bool = False) -> int:
        """VmHWM: the most resident memory the process has had, in KiB; with `tree`, the sum
        over it and every process below it (workers, a dispatcher), each at its own peak."""
        pids = _tree(self.pid) if tree else [self.pid]
        return sum(_peak_kib(pid) for pid in pids)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def herald_server(port: int, database_url: str, log: Path, workers: int = 1) -> Server:
    argv = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    return Server("herald", argv, port, log, {"HERALD_DATABASE_URL": database_url})


def ceiling_server(port: int, log: Path, workers: int = 1) -> Server:
    argv = [sys.executable, "-m", "bench.ceiling_app", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    return Server("ceiling", argv, port, log)


def _tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            found += _tree(int(child))
    return found


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc status")


def null_server(port: int, log: Path) -> Server:
    argv = [sys.executable, "-m", "bench.null_server", "--host", "127.0.0.1", "--port", str(port)]
    return Server("null", argv, port, log)


def create_key(database_url: str, workspace: str) -> str:
    """`herald keys create`: the key is the last line it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", "create", "--workspace", workspace],
        cwd=REPO,
        env=python_env({"HERALD_DATABASE_URL": database_url}),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]
