"""The webhook benchmark runs end to end at tiny sizes: every figure and ratio comes out as a
positive number, and every event made after the endpoint reached the receiver. Nothing here
asserts how fast anything is."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench.webhooks import FIGURES, RATIOS

REPO = Path(__file__).resolve().parent.parent


def test_the_webhook_benchmark_s_smoke_run_produces_every_figure(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.webhooks",
            "--smoke",
            "--json",
            str(figures),
            *["--workdir", str(tmp_path)],
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    data = json.loads(figures.read_text())
    produced = {**data["figures"], **data["ratios"]}
    assert [k for k in (*FIGURES, *RATIOS) if k not in produced] == []
    wrong = {
        k: v
        for k, v in produced.items()
        # The backlog may drain before the load ends: 0 s.
        if not (math.isfinite(v) and (v > 0 or (k.endswith("drain_s") and v == 0)))
    }
    assert wrong == {}
    assert "ONLY" not in done.stdout  # every delivery arrived
