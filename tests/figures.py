"""The figures of the reliability proofs: counts each proof gathers while it runs.

A proof calls `record("crash safety", backend, kills=1, writes_checked=len(acks))` with what it
actually did and checked; counts of the same proof, backend and name add up. A test's counts
stand only once the test has passed (a failed test's figures would claim a proof that did not
hold): conftest.py opens a test's figures as it starts and keeps or drops them by its outcome.
At the end of the session they are written to test-artifacts/reliability.json and shown in
pytest's terminal summary; docs/RELIABILITY.md quotes them.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ARTIFACT = Path(__file__).resolve().parents[1] / "test-artifacts" / "reliability.json"

Key = tuple[str, str]  # (proof, backend)


def backend_of(database_url: str) -> str:
    return "postgres" if database_url.startswith("postgres") else "sqlite"


@dataclass
class Figures:
    kept: dict[Key, dict[str, int]] = field(default_factory=dict)
    tests: dict[Key, set[str]] = field(default_factory=dict)  # the passed tests behind them
    pending: dict[Key, dict[str, int]] = field(default_factory=dict)
    current: str | None = None  # the test now running
    spoiled: bool = False  # whether it failed or was skipped in some phase

    def record(self, proof: str, backend: str, **counts: int) -> None:
        bucket = self.pending.setdefault((proof, backend), {})
        for name, count in counts.items():
            if not isinstance(count, int) or count < 0:
                raise ValueError(f"a figure is a count: {name}={count!r}")
            bucket[name] = bucket.get(name, 0) + count

    def begin(self, test: str) -> None:
        self.current = test
        self.pending = {}
        self.spoiled = False

    def spoil(self, test: str) -> None:
        if test == self.current:
            self.spoiled = True

    def end(self, test: str) -> None:
        if test == self.current and not self.spoiled:
            for key, counts in self.pending.items():
                kept = self.kept.setdefault(key, {})
                for name, count in counts.items():
                    kept[name] = kept.get(name, 0) + count
                self.tests.setdefault(key, set()).add(test)
        self.pending = {}
        self.current = None

    def dump(self) -> list[tuple[str, str, dict[str, int], list[str]]]:
        """What a test process found, for the process that reports the run (pytest-xdist)."""
        return [(p, b, counts, sorted(self.tests[(p, b)])) for (p, b), counts in self.kept.items()]

    def merge(self, dumped: list[tuple[str, str, dict[str, int], list[str]]]) -> None:
        for proof, backend, counts, tests in dumped:
            kept = self.kept.setdefault((proof, backend), {})
            for name, count in counts.items():
                kept[name] = kept.get(name, 0) + count
            self.tests.setdefault((proof, backend), set()).update(tests)

    def as_json(self) -> dict[str, Any]:
        proofs: dict[str, dict[str, Any]] = {}
        for (proof, backend), counts in sorted(self.kept.items()):
            proofs.setdefault(proof, {})[backend] = {
                "tests_passed": len(self.tests[(proof, backend)]),
                **dict(sorted(counts.items())),
            }
        return {
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "machine": f"{platform.system()} {platform.machine()}, {_cpus()} CPUs",
            "proofs": proofs,
        }

    def write(self, path: Path = ARTIFACT) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")
        return path

    def table(self) -> list[str]:
        """One line per proof and backend: its counts, as `name=count`."""
        rows = []
        for (proof, backend), counts in sorted(self.kept.items()):
            shown = " ".join(f"{name}={count}" for name, count in sorted(counts.items()))
            passed = len(self.tests[(proof, backend)])
            rows.append(f"{proof:<16} {backend:<8} tests={passed} {shown}")
        return rows


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


FIGURES = Figures()


def record(proof: str, backend: str, **counts: int) -> None:
    """Add counts to `proof`'s figures on `backend`; they stand if the running test passes."""
    FIGURES.record(proof, backend, **counts)
