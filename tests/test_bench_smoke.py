"""The benchmark suite runs end to end at tiny sizes: every figure and ratio comes out as a
positive number. Nothing here asserts how fast anything is."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench import loadgen, servers
from bench.loadgen import Request
from bench.run import FIGURES, RATIOS
from tests.processes import bench


def test_the_smoke_run_produces_every_figure_and_ratio_as_a_positive_number(
    tmp_path: Path,
) -> None:
    report, figures = tmp_path / "report.md", tmp_path / "figures.json"
    done = bench(
        "run",
        "--smoke",
        "--report",
        str(report),
        "--json",
        str(figures),
        "--workdir",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    data = json.loads(figures.read_text())
    produced: dict[str, object] = {**data["figures"], **data["ratios"]}
    missing = [key for key in (*FIGURES, *RATIOS) if key not in produced]
    assert missing == []
    not_positive = {
        key: value
        for key, value in produced.items()
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0)
    }
    assert not_positive == {}
    assert set(RATIOS) <= set(data["ratios"])

    text = report.read_text()
    assert "## Targets" in text
    assert len(data["targets"]) >= 10
    for target in data["targets"]:
        assert target["label"] in text


def test_the_python_load_generator_gets_answers_from_a_server(tmp_path: Path) -> None:
    port = servers.free_port()
    with servers.null_server(port, tmp_path / "null.log") as null:
        null.start()
        request = Request(f"{null.base_url}/graphql", b'{"query": "{ ok }"}', {"X-Bench": "1"})
        result = loadgen.run_python(request, seconds=0.3, connections=2)
    assert result.tool == "python-asyncio"
    assert result.requests > 0
    assert result.failed == 0
    assert result.p50_ms > 0
