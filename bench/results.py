"""Figures, the ratios between them, and the targets they are held to; printed as they come,
then written as a markdown report and as JSON."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Op = Literal[">=", "<="]


@dataclass(frozen=True)
class Target:
    op: Op
    bound: float

    def met(self, value: float) -> bool:
        return value >= self.bound if self.op == ">=" else value <= self.bound

    def __str__(self) -> str:
        return f"{self.op} {_number(self.bound)}"


@dataclass(frozen=True)
class Figure:
    key: str
    section: str
    label: str
    value: float
    unit: str
    # A ratio names the two figures it divides: (numerator, denominator).
    of: tuple[str, str] | None = None


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    value: float
    unit: str
    target: Target

    @property
    def met(self) -> bool:
        return self.target.met(self.value)


@dataclass
class Results:
    mode: str
    figures: dict[str, Figure] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    machine: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int | float] = field(default_factory=dict)
    section: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # wall-clock time per section
    _since: float = field(default_factory=time.perf_counter)

    def begin(self, section: str) -> None:
        self._clock()
        self.section = section
        print(f"\n== {section}", flush=True)

    def _clock(self) -> None:
        now = time.perf_counter()
        if self.section:
            self.seconds[self.section] = self.seconds.get(self.section, 0.0) + now - self._since
        self._since = now

    def note(self, text: str) -> None:
        self.notes.setdefault(self.section, []).append(text)
        print(f"   note: {text}", flush=True)

    def figure(self, key: str, label: str, value: float, unit: str) -> float:
        if key in self.figures:
            raise ValueError(f"figure {key} recorded twice")
        self.figures[key] = Figure(key, self.section, label, float(value), unit)
        print(f"   {label}: {_number(value)} {unit}", flush=True)
        return value

    def ratio(self, key: str, label: str, numerator: str, denominator: str) -> float:
        top, bottom = self.figures[numerator].value, self.figures[denominator].value
        value = top / bottom if bottom else math.nan
        self.figures[key] = Figure(key, self.section, label, value, "x", (numerator, denominator))
        print(f"   {label}: {_number(value)}x ({numerator} / {denominator})", flush=True)
        return value

    def target(self, key: str, label: str, op: Op, bound: float) -> bool:
        figure = self.figures[key]
        check = Check(key, label, figure.value, figure.unit, Target(op, bound))
        self.checks.append(check)
        verdict = "PASS" if check.met else "MISS"
        print(f"   target {label}: {_number(figure.value)} {op} {_number(bound)} {verdict}")
        return check.met

    def finish(self) -> None:
        self._clock()
        self.section = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "machine": self.machine,
            "sizes": self.sizes,
            "figures": {k: f.value for k, f in self.figures.items() if f.of is None},
            "ratios": {k: f.value for k, f in self.figures.items() if f.of is not None},
            "units": {k: f.unit for k, f in self.figures.items()},
            "targets": [{**asdict(c), "met": c.met} for c in self.checks],
            "notes": self.notes,
            "seconds": self.seconds,
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n")

    def markdown(self) -> str:
        out = [f"# Herald benchmark report ({self.mode})", ""]
        out += ["## Machine", "", "| | |", "|---|---|"]
        out += [f"| {k} | {_cell(v)} |" for k, v in self.machine.items()]
        out += ["", "## Sizes", "", "| | |", "|---|---|"]
        out += [f"| {k} | {_number(v)} |" for k, v in self.sizes.items()]
        out += ["", "## Time taken", "", "| section | seconds |", "|---|---|"]
        out += [f"| {k} | {v:,.1f} |" for k, v in self.seconds.items() if k != "Run"]
        out += ["", "## Targets", "", "| target | value | bound | verdict |", "|---|---|---|---|"]
        for c in self.checks:
            verdict = "PASS" if c.met else "**MISS**"
            value = f"{_number(c.value)} {c.unit}"
            out.append(f"| {c.label} | {value} | {c.target} {c.unit} | {verdict} |")
        sections = list(dict.fromkeys(f.section for f in self.figures.values()))
        for section in sections:
            out += ["", f"## {section}", "", "| figure | value | unit |", "|---|---|---|"]
            for f in self.figures.values():
                if f.section == section and f.of is None:
                    out.append(f"| {f.label} | {_number(f.value)} | {f.unit} |")
            ratios = [f for f in self.figures.values() if f.section == section and f.of]
            if ratios:
                out += ["", "| ratio | value | = |", "|---|---|---|"]
                for f in ratios:
                    assert f.of is not None
                    top, bottom = (self.figures[k].label for k in f.of)
                    out.append(f"| {f.label} | {_number(f.value)}x | {top} / {bottom} |")
            for text in self.notes.get(section, []):
                out += ["", f"- {text}"]
        for section, texts in self.notes.items():
            if section not in sections:
                out += ["", f"## {section}", ""] + [f"- {t}" for t in texts]
        return "\n".join(out) + "\n"

    def write_markdown(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown())


def _number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
