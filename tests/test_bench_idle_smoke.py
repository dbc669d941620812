"""The idle-subscriptions benchmark runs end to end at a tiny size and prints every figure as
a positive number. Nothing here asserts how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TINY = ("--subscriptions", "4", "--per-connection", "2", "--requests", "10")


def test_the_idle_subscriptions_benchmark_prints_positive_figures() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.idle_subscriptions", *TINY],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["connections_of_a"] == 2
    for run in ("b_alone", "b_beside_idle_a"):
        assert figures[run]["p50_ms"] > 0
        assert figures[run]["p99_ms"] > 0
    assert figures["p50_ratio"] > 0
    assert figures["p99_ratio"] > 0
