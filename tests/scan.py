"""What a database holds at rest, as bytes: the SQLite files (main file, -wal, -shm) or a
pg_dump of the PostgreSQL database, for tests that look for values that must not be there."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from app.settings import Settings
from tests.postgres import find_bin_dir


def pg_dump(url: str, out: Path) -> bytes:
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    subprocess.run(
        [str(bin_dir / "pg_dump"), "--dbname", url, "--file", str(out)], check=True, timeout=120
    )
    return out.read_bytes()


def stored_bytes(settings: Settings, tmp_path: Path) -> dict[str, bytes]:
    if settings.is_postgres:
        return {"pg_dump": pg_dump(settings.database_url, tmp_path / "dump.sql")}
    folder = settings.sqlite_path().parent
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def holding(files: dict[str, bytes], text: str) -> list[str]:
    """The files that hold `text`, as UTF-8, as a JSON string or as UTF-16."""
    forms = {text.encode(), json.dumps(text).encode(), text.encode("utf-16-le")}
    return [name for name, data in files.items() if any(f in data for f in forms)]
