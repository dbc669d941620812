"""The webhook benchmark runs end to end at tiny sizes (it fails when a figure is missing), and
every event made after the endpoint reaches the receiver. Nothing here asserts how fast."""

from __future__ import annotations

import json
from pathlib import Path

from bench.webhooks import PLACES
from tests.processes import bench


def test_the_webhook_benchmark_delivers_every_event_and_reports_rates_and_lags(
    tmp_path: Path,
) -> None:
    out = tmp_path / "figures.json"
    done = bench("webhooks", "--smoke", "--json", str(out), "--workdir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "ONLY" not in done.stdout  # every delivery arrived
    figures = json.loads(out.read_text())["figures"]
    for place in PLACES:
        k = f"webhooks.{place}"
        assert figures[f"{k}.delivered"] >= 1
        assert figures[f"{k}.draft.plain_rps"] > 0
        assert figures[f"{k}.delivery_dps"] > 0
        lags = [figures[f"{k}.lag_{q}_ms"] for q in ("p50", "p99", "max")]
        assert 0 < lags[0] <= lags[1] <= lags[2]
