"""HERALD_* environment variables and the eventsourcing environment they make."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_DATABASE_URL = "sqlite:///data/herald.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    snapshot_interval: int = 100

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("HERALD_DATABASE_URL") or DEFAULT_DATABASE_URL,
            snapshot_interval=int(env.get("HERALD_SNAPSHOT_INTERVAL") or 100),
        )

    def sqlite_path(self) -> Path:
        """`sqlite:///relative.db` is relative to the working directory, `sqlite:////abs.db` not."""
        url = urlparse(self.database_url)
        if url.scheme != "sqlite":
            raise ValueError(f"not a SQLite URL: {self.database_url}")
        path = self.database_url[len("sqlite:///") :]
        if not path:
            raise ValueError("the SQLite URL names no file")
        return Path(path)

    def eventsourcing_env(self) -> dict[str, str]:
        scheme = urlparse(self.database_url).scheme
        if scheme != "sqlite":
            raise ValueError(
                f"unsupported HERALD_DATABASE_URL scheme {scheme!r}: use sqlite:///path.db"
            )
        path = self.sqlite_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "app.persistence:HeraldSQLiteFactory",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
