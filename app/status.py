"""`herald status`: where the event log and its consumers are, what each workspace holds, and
which servers are up with how many subscriptions open (from their heartbeats, app.presence)."""

from __future__ import annotations

import time
from typing import Any

from app.positions import read_positions
from app.presence import STALE_AFTER, servers
from app.runtime import Herald


def gather(herald: Herald) -> dict[str, Any]:
    positions = read_positions(herald)
    db = herald.store.db
    with db.transaction(commit=False) as c:
        c.execute(
            "SELECT w.name, "
            "(SELECT COUNT(*) FROM view_messages m WHERE m.workspace = w.id), "
            "(SELECT COUNT(*) FROM view_events e WHERE e.workspace = w.id) "
            "FROM herald_workspaces w ORDER BY w.name"
        )
        workspaces = [
            {"name": str(name), "messages": int(messages), "events": int(events)}
            for name, messages, events in c.fetchall()
        ]
    now = time.time()
    up = [
        {
            "host": s.host,
            "pid": s.pid,
            "up_seconds": round(now - s.started),
            "last_beat_seconds": round(now - s.beat, 1),
            "subscriptions": s.subscriptions,
            "projecting": s.projecting,
        }
        for s in servers(db, now)
    ]
    return {
        "events": positions.events,
        "consumers": [
            {"name": name, "position": position, "lag": positions.lag(name)}
            for name, position in sorted(positions.consumers.items())
        ],
        "workspaces": workspaces,
        "servers": up,
        "open_subscriptions": sum(s["subscriptions"] for s in up),
    }


def render(status: dict[str, Any]) -> str:
    lines = [f"events recorded: {status['events']} (the log's last position)", "consumers:"]
    for c in status["consumers"]:
        lines.append(f"  {c['name']:<24} position {c['position']:<10} lag {c['lag']}")
    lines.append(f"workspaces: {len(status['workspaces'])}")
    for w in status["workspaces"]:
        lines.append(f"  {w['name']:<24} {w['messages']:>8} messages {w['events']:>10} events")
    lines.append(f"servers (a heartbeat within {STALE_AFTER:.0f}s): {len(status['servers'])}")
    for s in status["servers"]:
        role = "serving and projecting" if s["projecting"] else "serving"
        lines.append(
            f"  {s['host']} pid {s['pid']:<8} up {s['up_seconds']}s, {role}, "
            f"{s['subscriptions']} subscriptions open"
        )
    lines.append(f"open subscriptions: {status['open_subscriptions']}")
    return "\n".join(lines)
