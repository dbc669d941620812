"""Real Herald processes for the tests: `herald serve` and `herald project` as subprocesses."""

from __future__ import annotations

import contextlib
import json
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
    return python(database_url, ["-m", "app.cli", *args])


def python(
    database_url: str, args: list[str], given: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """This Python, in the project's folder, on this database, fed `given` on stdin."""
    return subprocess.run(
        [sys.executable, *args],
        input=given,
        env=herald_env(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def bench(module: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`python -m bench.<module>`, from the project's folder, as its README runs it."""
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def create_key(database_url: str, workspace: str, name: str | None = None) -> str:
    named = () if name is None else ("--name", name)
    done = herald_cli(database_url, "keys", "create", "--workspace", workspace, *named)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started in a session of its own, with every process of its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


class HeraldProcess:
    """One `herald` process; its output goes to a log file the test can show on failure."""

    def __init__(self, database_url: str, log: Path, *args: str) -> None:
        self.log_path = log
        self._log: IO[bytes] = log.open("wb")
        # A session of its own: `herald serve` runs workers and a dispatcher, and a kill -9
        # of the server is of them all, as when its machine goes.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            env=herald_env(database_url),
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        kill_group(self.process)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_group(self.process)
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


def database_alone(database_url: str, folder: Path) -> str:
    """The backend's database; on SQLite a file alone in `folder` (made by the server), so that
    every file there is the database's (main file, -wal, -shm) and a byte scan sees them all."""
    if database_url.startswith("sqlite:"):
        return f"sqlite:///{folder / 'db' / 'herald.db'}"
    return database_url


def create_keys(database_url: str, workspace: str, names: list[str]) -> dict[str, str]:
    """One API key for each name (its actor): the first made alone (it may create the schema and
    the workspace), the others by `herald keys create` processes at once."""
    keys = {names[0]: create_key(database_url, workspace, names[0])}
    create = [sys.executable, "-m", "app.cli", "keys", "create", "--workspace", workspace]
    runs = [
        subprocess.Popen(
            [*create, "--name", name],
            env=herald_env(database_url),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names[1:]
    ]
    for name, run in zip(names[1:], runs, strict=True):
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        keys[name] = out.strip().splitlines()[-1]
    return keys


# `herald` is the console script `app.cli:main`: this runs it once for each argument list, in
# one interpreter, so that checking a hundred messages does not start a hundred Pythons. Each
# call gets what the script would give a process: an exit code, its stdout and its stderr.
_CALLS = r"""
import contextlib, io, json, logging, sys, traceback
from app.cli import main

class ToCurrentStderr(logging.Handler):
    def emit(self, record):
        sys.stderr.write(self.format(record) + "\n")

logging.getLogger().addHandler(ToCurrentStderr())
logging.getLogger().setLevel(logging.INFO)
answers = []
for argv in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except Exception:
            traceback.print_exc()
            code = 1
    answers.append([code, out.getvalue(), err.getvalue()])
json.dump(answers, sys.__stdout__)
"""


def herald_cli_calls(
    database_url: str, calls: list[list[str]]
) -> list[subprocess.CompletedProcess[str]]:
    """`herald ARGS...` for each of `calls`, one after another in one process."""
    done = python(database_url, ["-c", _CALLS], json.dumps(calls), timeout=600)
    assert done.returncode == 0, done.stderr
    return [
        subprocess.CompletedProcess(["herald", *argv], code, out, err)
        for argv, (code, out, err) in zip(calls, json.loads(done.stdout), strict=True)
    ]
