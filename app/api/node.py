"""Relay's global object identification: the Node interface, which a client's normalized cache
uses to find any object again by its id alone (relay.py resolves `node` and `nodes`)."""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description=(
        "An object that node(id:) finds again by its id. Ids are unique across the API: a "
        "message's id is its UUID."
    )
)
class Node:
    id: strawberry.ID = strawberry.field(description="The object's id.")
