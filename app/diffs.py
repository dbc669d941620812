"""The word-level diff of two texts: the one rule behind Message.revisions, the inspector and
`herald history --diff`.

Texts are cut into words, runs of spaces and runs of punctuation, and compared with Myers'
O(ND) algorithm, which is fast when a person changed a few words of a long text. difflib's
SequenceMatcher is not used: on repetitive text it is cubic (12.5 s for 500 words here). The
search has a fixed budget of steps; a pair of texts that needs more (a long text rewritten
throughout) is shown as its differing middle removed and the new one inserted, still exact."""

from __future__ import annotations

import re
from enum import Enum
from typing import NamedTuple

_TOKENS = re.compile(r"\w+|\s+|[^\w\s]+")
# Steps of the search (diagonals visited, runs compared): about 15 ms of CPU here; a whole diff
# of two texts near the 65,536-character limit (10,000 words) takes about 20 ms at most.
BUDGET = 40_000


class Op(Enum):
    EQUAL = "EQUAL"
    INSERT = "INSERT"
    DELETE = "DELETE"


class Segment(NamedTuple):
    op: Op
    text: str


class Change(NamedTuple):
    """The size of a change: words (and runs of punctuation) added and removed."""

    added: int
    removed: int


def tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def diff(old: str, new: str, budget: int = BUDGET) -> list[Segment]:
    """Segments whose EQUAL and DELETE texts make `old`, and EQUAL and INSERT texts `new`."""
    a, b = tokens(old), tokens(new)
    # One character per distinct token, so that runs of equal tokens compare at C speed.
    codes = {t: chr(i) for i, t in enumerate(dict.fromkeys(a + b))}
    ca, cb = "".join(map(codes.__getitem__, a)), "".join(map(codes.__getitem__, b))
    start, _ = _run(ca, cb, 0, 0)
    end, _ = _run(ca[start:][::-1], cb[start:][::-1], 0, 0)
    middle_a, middle_b = a[start : len(a) - end], b[start : len(b) - end]
    steps = _myers(middle_a, middle_b, ca[start : len(a) - end], cb[start : len(b) - end], budget)
    if steps is None:
        steps = [(Op.DELETE, "".join(middle_a)), (Op.INSERT, "".join(middle_b))]
    segments = _tidy(
        [(Op.EQUAL, "".join(a[:start])), *steps, (Op.EQUAL, "".join(a[len(a) - end :]))]
    )
    return _slide(segments)


def change_of(segments: list[Segment]) -> Change:
    def words(op: Op) -> int:
        return sum(1 for s in segments if s.op is op for t in tokens(s.text) if not t.isspace())

    return Change(added=words(Op.INSERT), removed=words(Op.DELETE))


def _run(a: str, b: str, x: int, y: int) -> tuple[int, int]:
    """How many characters a[x:] and b[y:] have in common at their start, and the steps taken:
    slices of doubling length are compared, so a long run costs few steps of Python."""
    limit = min(len(a) - x, len(b) - y)
    run, step, steps = 0, 1, 0
    while run < limit:
        steps += 1
        step = min(step, limit - run)
        if a[x + run : x + run + step] == b[y + run : y + run + step]:
            run += step
            step *= 2
        elif step == 1:
            break
        else:
            step //= 2
    return run, steps


def _myers(
    a: list[str], b: list[str], ca: str, cb: str, budget: int
) -> list[tuple[Op, str]] | None:
    """The shortest edit script from a to b (ca and cb: their tokens' codes); None past the
    budget. Equal runs come as one step each, insertions and deletions token by token."""
    n, m = len(a), len(b)
    furthest: dict[int, int] = {1: 0}  # diagonal k = x - y → furthest x reached on it
    trace: list[dict[int, int]] = []
    work = 0
    for d in range(n + m + 1):
        trace.append(furthest.copy())
        work += 2 * d + 1
        for k in range(-d, d + 1, 2):
            down = k == -d or (k != d and furthest[k - 1] < furthest[k + 1])
            x = furthest[k + 1] if down else furthest[k - 1] + 1
            if x < n and x - k < m and ca[x] == cb[x - k]:
                run, steps = _run(ca, cb, x, x - k)
                x += run
                work += steps
            furthest[k] = x
            if x >= n and x - k >= m:
                return _backtrack(trace, a, b)
        if work > budget:
            return None
    raise AssertionError("unreachable: d = n + m always reaches the end")


def _backtrack(trace: list[dict[int, int]], a: list[str], b: list[str]) -> list[tuple[Op, str]]:
    x, y = len(a), len(b)
    steps: list[tuple[Op, str]] = []
    for d in range(len(trace) - 1, -1, -1):
        furthest = trace[d]
        k = x - y
        down = k == -d or (k != d and furthest[k - 1] < furthest[k + 1])
        before_k = k + 1 if down else k - 1
        before_x = furthest[before_k]
        # The one move of step d, then a run of equal tokens up to (x, y).
        moved_x = 0 if d == 0 else before_x if down else before_x + 1
        steps.append((Op.EQUAL, "".join(a[moved_x:x])))
        if d > 0:
            before_y = before_x - before_k
            steps.append((Op.INSERT, b[before_y]) if down else (Op.DELETE, a[before_x]))
        x, y = before_x, before_x - before_k
    steps.reverse()
    return steps


def _tidy(steps: list[tuple[Op, str]]) -> list[Segment]:
    """Joins steps into segments, each change as one removal then one insertion; spaces alone
    between two changes join them, so "the quick" → "a slow" reads as one change, not two."""
    segments: list[Segment] = []
    removed: list[str] = []
    added: list[str] = []
    kept: list[str] = []

    def flush_change() -> None:
        if removed:
            segments.append(Segment(Op.DELETE, "".join(removed)))
        if added:
            segments.append(Segment(Op.INSERT, "".join(added)))
        removed.clear()
        added.clear()

    for op, text in steps:
        if not text:
            continue
        if op is Op.EQUAL:
            kept.append(text)
            continue
        if kept and (not (removed or added) or not "".join(kept).isspace()):
            flush_change()
            segments.append(Segment(Op.EQUAL, "".join(kept)))
        else:  # only spaces lie between this change and the one before: one change
            removed.extend(kept)
            added.extend(kept)
        kept.clear()
        (removed if op is Op.DELETE else added).append(text)
    flush_change()
    if kept:
        segments.append(Segment(Op.EQUAL, "".join(kept)))
    return segments


def _slide(segments: list[Segment]) -> list[Segment]:
    """Moves a lone insertion or removal that starts with a space one place on, where the text
    after it starts with that same space: "our| Leeds|depot" reads better as "our |Leeds |depot",
    and is as exact."""
    out = [Segment(Op.EQUAL, ""), *segments]
    for i in range(1, len(out) - 1):
        before, change, after = out[i - 1], out[i], out[i + 1]
        if before.op is not Op.EQUAL or change.op is Op.EQUAL or after.op is not Op.EQUAL:
            continue
        moved, text, rest = "", change.text, after.text
        while text[0].isspace() and rest[0] == text[0] and len(rest) > 1:
            moved, text, rest = moved + text[0], text[1:] + rest[0], rest[1:]
        out[i - 1] = Segment(Op.EQUAL, before.text + moved)
        out[i], out[i + 1] = Segment(change.op, text), Segment(Op.EQUAL, rest)
    return [s for s in out if s.text]
