"""One run of a model-based proof, round after round (or kill after kill) on one database: the
content keys seen before redactions, the audit of each round with its figures and problems,
and, once the server has stopped, the scan of what is durable."""

from __future__ import annotations

from tests.erasure import is_sqlite, key_rows, stored_bytes
from tests.figures import backend_of, record
from tests.model_audit import KEYS_SEEN, Findings, audit, stored_problems
from tests.model_plan import Plan
from tests.model_racers import Told
from tests.readings import Client


class Proof:
    def __init__(self, name: str, database_url: str, seed: int) -> None:
        self.name = name
        self.database_url = database_url
        self.seed = seed
        self.keys_seen: KEYS_SEEN = {}
        self.redacted: dict[str, list[str]] = {}  # message id -> every text sent for it
        self.problems: list[str] = []

    def keys_before_racing(self, ids: dict[str, str]) -> None:
        """Each message's key as it is before the race, to look for once it is redacted."""
        for mid, key in key_rows(self.database_url, ids.values()).items():
            self.keys_seen.setdefault(mid, set()).add(key)

    def audit(
        self,
        label: str,
        plan: Plan,
        told: list[Told],
        ids: dict[str, str],
        reader: Client,
        **figures: int,
    ) -> Findings:
        # On SQLite the old keys are looked for once the server has stopped (`scan_durable`):
        # until it checkpoints, its write-ahead log may keep pages from before a deletion.
        sqlite = is_sqlite(self.database_url)
        found = audit(
            plan, told, ids, reader, self.database_url, self.keys_seen, scan_keys=not sqlite
        )
        self.redacted |= found.redacted
        record(
            self.name,
            backend_of(self.database_url),
            **figures,
            internal_errors=found.internal,
            lifecycle_broken=len(found.lifecycle),
            views_disagreeing=len(found.views),
            misanswered=len(found.misanswered),
            unexpected_refusals=len(found.unexpected),
            erasure_failures=len(found.erasure),
            projections_verified=int(found.verify is None),
            **found.counts,
        )
        print(f"{label}: {dict(found.counts)}, INTERNAL_SERVER_ERROR answers: {found.internal}")
        self.problems += [f"{label}: {problem}" for problem in found.problems()]
        if found.internal:
            self.problems.append(f"{label}: {found.internal} INTERNAL_SERVER_ERROR answers")
        return found

    def scan_durable(self) -> None:
        """With the server stopped, every file of a SQLite database, for every text and old key
        of every redacted message (PostgreSQL's dumps were scanned for both each round)."""
        if not is_sqlite(self.database_url):
            return
        stored = stored_bytes(self.database_url)
        for mid, texts in self.redacted.items():
            self.problems += stored_problems(stored, mid, texts, self.keys_seen.get(mid, set()))

    def verdict(self) -> str:
        shown = "\n".join(self.problems[:40])
        return f"HERALD_MODEL_SEED={self.seed}: {len(self.problems)} problems:\n{shown}"
