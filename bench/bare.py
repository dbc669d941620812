"""The store's ceiling: the eventsourcing library alone, saving a bare aggregate on SQLite."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Edited")
    def edit(self, text: str) -> None:
        self.text = text


class BareApplication(Application[UUID]):
    name = "bare"


def bare_application(path: str) -> BareApplication:
    """Plain eventsourcing SQLite persistence: WAL, and SQLite's default synchronous=FULL,
    the same durability Herald asks for."""
    return BareApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path}
    )
