"""The webhook tables: endpoints (their secrets sealed, each with a key of its own kept apart),
deliveries (the outbox: one row per endpoint and event) and each delivery's attempts."""

from __future__ import annotations

from app.database import Database

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def create_tables(db: Database) -> None:
    serial = (
        "BIGSERIAL PRIMARY KEY" if db.dialect == "postgres" else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    time = "DOUBLE PRECISION"
    pending = f"WHERE status = '{PENDING}'"
    statements = (
        "CREATE TABLE IF NOT EXISTS webhook_endpoints (id TEXT PRIMARY KEY, "
        "workspace TEXT NOT NULL, url TEXT NOT NULL, event_types TEXT, "
        "description TEXT NOT NULL, secret TEXT NOT NULL, previous_secret TEXT, "
        f"previous_until {time}, since BIGINT NOT NULL, created_at {time} NOT NULL, "
        f"updated_at {time} NOT NULL, disabled_at {time}, disabled_reason TEXT, "
        f"failing_since {time}, deleted INTEGER NOT NULL DEFAULT 0, replay_next BIGINT, "
        "replay_until BIGINT)",
        "CREATE INDEX IF NOT EXISTS webhook_endpoints_by_workspace "
        "ON webhook_endpoints (workspace, created_at)",
        f"CREATE TABLE IF NOT EXISTS webhook_keys (endpoint_id TEXT PRIMARY KEY, key {db.blob} "
        "NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS webhook_deliveries (id {serial}, endpoint_id TEXT NOT NULL, "
        "notification_id BIGINT NOT NULL, message_id TEXT NOT NULL, version INTEGER NOT NULL, "
        "event_type TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
        f"next_at {time} NOT NULL, created_at {time} NOT NULL, "
        "replayed INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_page ON webhook_deliveries "
        "(endpoint_id, id)",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_status ON webhook_deliveries "
        "(endpoint_id, status, id)",
        # Only pending deliveries are in these, so they stay as small as the backlog.
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries "
        f"(endpoint_id, next_at) {pending}",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_order ON webhook_deliveries "
        f"(endpoint_id, message_id, notification_id) {pending}",
        "CREATE TABLE IF NOT EXISTS webhook_attempts (delivery_id BIGINT NOT NULL, "
        f"attempt INTEGER NOT NULL, at {time} NOT NULL, http_status INTEGER, "
        f"duration_ms {time} NOT NULL, error TEXT, next_at {time}, "
        "PRIMARY KEY (delivery_id, attempt))",
    )
    with db.transaction(commit=True) as c:
        for statement in statements:
            c.execute(statement)
