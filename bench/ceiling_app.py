"""The HTTP ceiling: a bare strawberry app answering the same documents as Herald with constants,
served by uvicorn exactly as `herald serve` serves Herald."""

from __future__ import annotations

import argparse
import logging
import sys

import strawberry
import uvicorn
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache


@strawberry.type
class Item:
    id: strawberry.ID
    version: int
    status: str
    text: str | None


@strawberry.input
class DraftMessageInput:
    conversation_id: strawberry.ID
    text: str | None = None


@strawberry.type
class Query:
    @strawberry.field
    def message(self, id: strawberry.ID) -> Item | None:
        return Item(id=id, version=1, status="DRAFT", text="hello")


@strawberry.type
class Mutation:
    @strawberry.mutation
    def draft_message(self, input: DraftMessageInput) -> Item:
        return Item(id=strawberry.ID("ceiling"), version=1, status="DRAFT", text=input.text)


def create_app() -> GraphQL[None, None]:
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            lambda: ParserCache(maxsize=1_000),
            lambda: ValidationCache(maxsize=1_000),
        ],
    )
    return GraphQL(schema)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ceiling_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    # The same logging and uvicorn.run call as `herald serve` (app/cli.py).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        "bench.ceiling_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
