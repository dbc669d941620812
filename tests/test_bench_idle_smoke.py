"""The idle-subscriptions benchmark runs end to end at a tiny size and prints every figure as
a positive number. Nothing here asserts how fast anything is."""

from __future__ import annotations

import json

from tests.processes import bench

TINY = ("--subscriptions", "4", "--per-connection", "2", "--requests", "10")


def test_the_idle_subscriptions_benchmark_prints_positive_figures() -> None:
    done = bench("idle_subscriptions", *TINY, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["connections_of_a"] == 2
    for run in ("b_alone", "b_beside_idle_a"):
        assert figures[run]["p50_ms"] > 0
        assert figures[run]["p99_ms"] > 0
    assert figures["p50_ratio"] > 0
    assert figures["p99_ratio"] > 0
