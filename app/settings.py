"""HERALD_* environment variables and the eventsourcing environment they make."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from math import ceil
from pathlib import Path
from urllib.parse import unquote, urlparse

from app.webhooks.config import WebhookSettings

DEFAULT_DATABASE_URL = "sqlite:///data/herald.db"
# Threads a serving process runs blocking calls on: at least the concurrent requests we expect,
# so they can share commits. Each may hold a pooled connection, so SQLite's pool keeps as many.
BLOCKING_THREADS = 32


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    snapshot_interval: int = 10
    pool_size: int = 10
    serve_projections: bool = True
    max_subscriptions_per_connection: int = 50
    keep_alive_seconds: float = 15.0
    introspection: bool = True
    # Cost points (app.api.cost) a second per API key, and the most it may spend at once.
    rate_limit: float = 10_000.0
    rate_burst: int = 20_000
    # The limits below are listed, with their meaning, in the README.
    max_cost: int = 10_000
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4_000
    address_rate_limit: float = 100.0
    address_rate_burst: int = 10_000
    workspace_share: int = 10_000
    max_request_bytes: int = 1024 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    # Browser pages on other origins may not open subscriptions unless listed ("*" for any).
    allowed_origins: tuple[str, ...] = ()
    # What one API key may hold open at once in this process (live.py, quota.py).
    max_connections_per_key: int = 20
    max_subscriptions_per_key: int = 200
    # Persisted documents (persisted.py): only registered ones, or Apollo's automatic ones too.
    trusted_documents: bool = False
    apq_documents: int = 1000
    apq_document_bytes: int = 32 * 1024
    # Operating it: /readyz fails when the views trail the events by more than this many
    # positions; /metrics asks for this bearer token when set; "json" logs one object a line.
    ready_max_lag: int = 1000
    metrics_token: str | None = None
    log_format: str = "text"
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls.shared_by(
            max(1, int(env.get("HERALD_WORKERS") or 1)),
            cls._read(env),
        )

    @staticmethod
    def shared_by(workers: int, settings: Settings) -> Settings:
        """What one of `workers` processes of `herald serve` enforces on its own: the rates and
        the caps a key or an address has in all, divided among them, so that together they
        allow what the settings say. A burst never falls below one operation's budget."""
        if workers <= 1:
            return settings
        return replace(
            settings,
            rate_limit=settings.rate_limit / workers,
            rate_burst=max(ceil(settings.rate_burst / workers), settings.max_cost),
            address_rate_limit=settings.address_rate_limit / workers,
            address_rate_burst=ceil(settings.address_rate_burst / workers),
            max_connections_per_key=ceil(settings.max_connections_per_key / workers),
            max_subscriptions_per_key=ceil(settings.max_subscriptions_per_key / workers),
        )

    @classmethod
    def _read(cls, env: dict[str, str] | os._Environ[str]) -> Settings:
        return cls(
            database_url=env.get("HERALD_DATABASE_URL") or DEFAULT_DATABASE_URL,
            snapshot_interval=int(env.get("HERALD_SNAPSHOT_INTERVAL") or 10),
            pool_size=int(env.get("HERALD_POOL_SIZE") or 10),
            serve_projections=(env.get("HERALD_SERVE_PROJECTIONS") or "1") not in ("0", "false"),
            max_subscriptions_per_connection=int(env.get("HERALD_MAX_SUBSCRIPTIONS") or 50),
            keep_alive_seconds=float(env.get("HERALD_KEEPALIVE_SECONDS") or 15),
            introspection=(env.get("HERALD_INTROSPECTION") or "1") not in ("0", "false"),
            rate_limit=float(env.get("HERALD_RATE_LIMIT") or 10_000),
            rate_burst=int(env.get("HERALD_RATE_BURST") or 20_000),
            max_cost=int(env.get("HERALD_MAX_COST") or 10_000),
            max_depth=int(env.get("HERALD_MAX_DEPTH") or 12),
            max_aliases=int(env.get("HERALD_MAX_ALIASES") or 30),
            max_tokens=int(env.get("HERALD_MAX_TOKENS") or 4_000),
            address_rate_limit=float(env.get("HERALD_ADDRESS_RATE_LIMIT") or 100),
            address_rate_burst=int(env.get("HERALD_ADDRESS_RATE_BURST") or 10_000),
            workspace_share=int(env.get("HERALD_WORKSPACE_SHARE") or 10_000),
            max_request_bytes=int(env.get("HERALD_MAX_REQUEST_BYTES") or 1024 * 1024),
            header_timeout=float(env.get("HERALD_HEADER_TIMEOUT") or 10),
            body_timeout=float(env.get("HERALD_BODY_TIMEOUT") or 30),
            allowed_origins=tuple(
                o.strip() for o in (env.get("HERALD_ALLOWED_ORIGINS") or "").split(",") if o.strip()
            ),
            max_connections_per_key=int(env.get("HERALD_MAX_CONNECTIONS_PER_KEY") or 20),
            max_subscriptions_per_key=int(env.get("HERALD_MAX_SUBSCRIPTIONS_PER_KEY") or 200),
            trusted_documents=(env.get("HERALD_TRUSTED_DOCUMENTS") or "0") not in ("0", "false"),
            apq_documents=int(env.get("HERALD_APQ_DOCUMENTS") or 1000),
            apq_document_bytes=int(env.get("HERALD_APQ_DOCUMENT_BYTES") or 32 * 1024),
            ready_max_lag=int(env.get("HERALD_READY_MAX_LAG") or 1000),
            metrics_token=env.get("HERALD_METRICS_TOKEN") or None,
            log_format=env.get("HERALD_LOG_FORMAT") or "text",
            webhooks=WebhookSettings.from_env(env),
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

    def describe(self) -> str:
        """Which database this is, for an operator to read (no password)."""
        if not self.is_postgres:
            return f"SQLite file {self.sqlite_path().resolve()}"
        url = urlparse(self.database_url)
        name = unquote(url.path.lstrip("/")) or "herald"
        return f"PostgreSQL database {name} at {url.hostname or '127.0.0.1'}:{url.port or 5432}"

    @property
    def is_postgres(self) -> bool:
        return urlparse(self.database_url).scheme in ("postgresql", "postgres")

    def eventsourcing_env(self) -> dict[str, str]:
        url = urlparse(self.database_url)
        if self.is_postgres:
            return {
                "PERSISTENCE_MODULE": "app.persistence:HeraldPostgresFactory",
                "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "herald",
                "POSTGRES_HOST": url.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(url.port or 5432),
                "POSTGRES_USER": unquote(url.username or "herald"),
                "POSTGRES_PASSWORD": unquote(url.password or ""),
                "POSTGRES_POOL_SIZE": str(self.pool_size),
                "POSTGRES_MAX_OVERFLOW": str(self.pool_size),
                "POSTGRES_LOCK_TIMEOUT": "30",
                "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
            }
        if url.scheme != "sqlite":
            raise ValueError(
                f"unsupported HERALD_DATABASE_URL scheme {url.scheme!r}: "
                "use sqlite:///path.db or postgresql://user:password@host:port/db"
            )
        path = self.sqlite_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "app.persistence:HeraldSQLiteFactory",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
