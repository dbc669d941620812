"""How Herald logs: plain lines by default, or one JSON object a line (HERALD_LOG_FORMAT=json)
carrying the id of the request it was written for, for log collectors to parse and join."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID: ContextVar[str | None] = ContextVar("herald_request_id", default=None)
FORMATS = ("text", "json")
_TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = REQUEST_ID.get()
        if rid is not None:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: str) -> None:
    """Set up the root logger once per process (each server worker calls it too); uvicorn's
    loggers then pass their lines up to it."""
    if log_format not in FORMATS:
        raise ValueError(f"HERALD_LOG_FORMAT must be one of {', '.join(FORMATS)}: {log_format!r}")
    root = logging.getLogger()
    if any(getattr(h, "herald", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.herald = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    if log_format == "json":
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
