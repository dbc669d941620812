"""The price list of operations (app.api.cost walks a document with it): what each field, list
and input value costs, in points of about one object in the answer, one value in the input, or
one KiB of content; and what an answer actually held, in the same points."""

from __future__ import annotations

from collections.abc import Mapping
from math import ceil

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    is_abstract_type,
)

from app.content import MAX_CONTENT
from app.webhooks.config import SCHEDULE

from .paging import MAX_EVENTS, MAX_HISTORY, MAX_MESSAGES
from .revisions import DEFAULT_REVISIONS
from .webhooks import MAX_DELIVERIES

CONTENT = ceil(MAX_CONTENT / 1024)  # a text or a body: at most MAX_CONTENT characters
REASON = 2  # a reason: at most 2,000 characters
WRITE = 10  # a mutation: a transaction, and a share of an fsync
DEFAULT_LIST = 100  # a list whose size nothing else tells
# What a KiB of content read costs the rate: reading, unsealing, decoding and writing it takes
# about what four objects do (a page of 76 messages of 65 536 characters took 0.7 s here). The
# price before the run counts a KiB as one point, so that the usual pages fit the budget; the
# rate charges what the content really cost, once it is known.
READ = 4
# Introspection answers from the schema in memory, in objects of about 100 bytes (the usual
# introspection query answers 807 objects in 88 KB): eight of them make a point.
INTROSPECTION_OBJECTS = 8

WEIGHTS: dict[str, int] = {
    **{
        f"{t}.{f}": CONTENT
        for t in ("Message", "MessageDrafted", "MessageEdited", "MessageRevision")
        for f in ("text", "body")
    },
    "ActionMessage.message": CONTENT,
    **{f"Message.{f}": REASON for f in ("rejectionReason", "failureReason")},
    **{
        f"{t}.reason": REASON
        for t in ("MessageRejected", "MessageStatusChanged", "MessageRedacted")
    },
    "Query.messageAt": 10,  # replays the message's events since its last snapshot
    # A word diff of two texts: its search is bounded (app/diffs.py), its answer the size of
    # a text.
    "MessageRevision.diff": CONTENT,
}
# Connections: the field, the cap of its `first`, the default the resolver uses.
SLICED: dict[str, tuple[int, int]] = {
    "Query.messages": (MAX_MESSAGES, 50),
    "Query.events": (MAX_EVENTS, 100),
    "Message.history": (MAX_HISTORY, 100),
    "Message.revisions": (MAX_HISTORY, DEFAULT_REVISIONS),
    "Query.webhookDeliveries": (MAX_DELIVERIES, 20),
}
SIZED = frozenset(
    {
        "MessageConnection.edges",
        "MessageEventConnection.edges",
        "MessageRevisionConnection.edges",
        "WebhookDeliveryConnection.edges",
    }
)
LIST_SIZES: dict[str, int] = {
    "Message.recipients": 100,
    "MessageDrafted.recipients": 100,
    "Query.webhookEndpoints": 20,  # at most 20 a workspace
    "WebhookDelivery.attempts": len(SCHEDULE),  # one per step of the retry schedule
}


def input_points(value: object) -> int:
    """One point per value given (objects, lists and scalars alike) and per KiB of text."""
    return _points(value, every_value=True)


def answer_points(data: object) -> int:
    """What an answer actually cost: its objects, and READ points per KiB of text in it."""
    return _points(data, every_value=False, per_kib=READ)


def _points(value: object, *, every_value: bool, per_kib: int = 1) -> int:
    points = 0
    stack = [value]
    while stack:
        item = stack.pop()
        points += every_value or isinstance(item, Mapping)
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            points += per_kib * (len(item) // 1024)
    return points


def introspection_sizes(schema: GraphQLSchema) -> dict[str, int]:
    """Introspection lists sized by this schema's averages: exact for the usual introspection
    query, which visits every type, and a fair guess for others (MaxIntrospectionDepthRule
    bounds how deep they nest)."""
    types = list(schema.type_map.values())
    count = len(types)
    with_fields = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    fields = [f for t in with_fields for f in t.fields.values()]
    inputs = [t for t in types if isinstance(t, GraphQLInputObjectType)]
    enums = [t for t in types if isinstance(t, GraphQLEnumType)]

    def average(total: int, over: int) -> int:
        return max(1, ceil(total / max(1, over)))

    return {
        "__Schema.types": count,
        "__Schema.directives": len(schema.directives),
        "__Type.fields": average(len(fields), count),
        "__Type.inputFields": average(sum(len(t.fields) for t in inputs), count),
        "__Type.enumValues": average(sum(len(t.values) for t in enums), count),
        "__Type.interfaces": average(sum(len(t.interfaces) for t in with_fields), count),
        "__Type.possibleTypes": average(
            sum(len(schema.get_possible_types(t)) for t in types if is_abstract_type(t)), count
        ),
        "__Field.args": average(sum(len(f.args) for f in fields), len(fields)),
        "__Directive.args": average(
            sum(len(d.args) for d in schema.directives), len(schema.directives)
        ),
    }
