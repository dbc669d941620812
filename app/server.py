"""create_app(): the Starlette app serving GraphQL over HTTP and WebSocket, and GraphiQL."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from app import explorer, inspector
from app.api.context import Context, blocking
from app.api.errors import classify
from app.api.guards import LegacyWSHandler, TransportWSHandler
from app.api.schema import build_schema
from app.errors import HeraldError
from app.http_media import GraphQLOverHTTP
from app.runtime import Herald
from app.settings import Settings

log = logging.getLogger(__name__)
_BLOCKING_THREADS = 32  # at least the concurrent requests we expect, so they can share commits
MAX_BODY = 1024 * 1024


class HeraldGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, herald: Herald) -> None:
        settings = herald.settings
        super().__init__(
            build_schema(introspection=settings.introspection),
            graphql_ide="graphiql",
            keep_alive=True,
            keep_alive_interval=settings.keep_alive_seconds,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            allowed_origins=settings.allowed_origins,
        )
        self.herald = herald

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A connection without a valid key is closed at once (4403), before any subscription."""
        try:
            await blocking(context.principal)
        except HeraldError as error:
            raise ConnectionRejectionError({"message": str(error), **error.extensions()}) from None
        unset: UnsetType = UNSET
        return unset

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(explorer.page())

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(herald=self.herald, request=request, response=response)

    def decode_json(self, data: str | bytes) -> object:
        return json.loads(data, parse_constant=_not_json)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = super().parse_json(data)
        except (UnicodeDecodeError, RecursionError):
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "the request body must be a JSON object")
        return parsed

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # Parse errors escape the schema's extensions, so classify once more on the way out.
        if result.errors:
            result.errors = [classify(error) for error in result.errors]
        return await super().process_result(request, result)


def _not_json(constant: str) -> object:
    raise json.JSONDecodeError(f"{constant} is not JSON", constant, 0)


class BodyLimit:
    """Refuses request bodies over the limit with 413, whether or not they declare a length."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        {
            "errors": [
                {
                    "message": f"request body is larger than {MAX_BODY} bytes",
                    "extensions": {"code": "LIMIT_EXCEEDED"},
                }
            ]
        },
        status_code=413,
    )
    await response(scope, receive, send)


def app_from_env() -> Starlette:
    """For `uvicorn --factory` and `herald serve --workers N`: each worker builds its own."""
    settings = Settings.from_env()
    return create_app(settings, project=settings.serve_projections)


def create_app(
    settings: Settings | None = None, herald: Herald | None = None, *, project: bool = True
) -> Starlette:
    herald = herald or Herald(settings, project=project)
    graphql = HeraldGraphQL(herald)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Writes wait for the disk in threads; asyncio's default pool (cores + 4) would cap how
        # many concurrent drafts can join one group commit, and so the writes per fsync.
        threads = ThreadPoolExecutor(_BLOCKING_THREADS, thread_name_prefix="herald")
        asyncio.get_running_loop().set_default_executor(threads)
        herald.start()
        try:
            yield
        finally:
            herald.close()

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", health),
            Route(f"{explorer.ASSET_ROUTE}/{{name}}", explorer.asset),
            *inspector.ROUTES,
        ],
        lifespan=lifespan,
    )
    app.state.herald = herald
    app.add_middleware(GraphQLOverHTTP)
    app.add_middleware(BodyLimit)
    return app
