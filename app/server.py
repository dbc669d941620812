"""create_app(): the Starlette app serving GraphQL over HTTP and WebSocket, and GraphiQL."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, cast

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from app import answers, explorer, health, inspector, logs, scrape, telemetry
from app.api import sse
from app.api.context import AFTER_ANSWER, Context, blocking, guards_of
from app.api.errors import classify
from app.api.guards import LegacyWSHandler, TransportWSHandler
from app.api.limits import OperationLimits
from app.api.persisted import remember, resolve
from app.api.quota import Releasing, hold_connection
from app.api.schema import build_schema
from app.errors import HeraldError, LimitExceeded
from app.http_media import GraphQLOverHTTP
from app.observe import Observed
from app.presence import Presence
from app.runtime import Herald
from app.serving import die_with_parent
from app.settings import BLOCKING_THREADS, Settings
from app.transport import TransportLimits

log = logging.getLogger(__name__)
_LEAVE_SECONDS = 2.0
_SWITCH_INTERVAL = 0.0005
SSE_METHODS = ["GET", "POST", "PUT", "DELETE"]  # graphql-sse's single connection mode uses all


class HeraldGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, herald: Herald, tracer_provider: Any = None) -> None:
        settings = herald.settings
        limits = OperationLimits(settings.max_depth, settings.max_aliases, settings.max_tokens)
        super().__init__(
            build_schema(
                introspection=settings.introspection,
                tracer_provider=tracer_provider,
                limits=limits,
            ),
            graphql_ide="graphiql",
            keep_alive=True,
            keep_alive_interval=settings.keep_alive_seconds,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            allowed_origins=settings.allowed_origins,
        )
        self.herald = herald

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        releases: list[Callable[[], None]] = []
        scope[AFTER_ANSWER] = releases
        try:
            try:
                response = await self.run(Request(scope=scope, receive=receive))
            except HTTPException as e:
                # The reason may quote the request (an operation name), lone surrogates and all.
                reason = e.reason.encode("utf-8", "backslashreplace")
                response = PlainTextResponse(reason, status_code=e.status_code)
            await response(scope, receive, send)
        finally:
            for release in releases:  # the workspace's share, held until the answer is sent
                release()

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A connection without a valid key, or over its key's connections, is closed at once
        (4403), before any subscription; opening one costs a point of the key's rate, and a
        refused one a point of its address's."""
        try:
            context.guards.addresses.check(context.address)
            principal = await blocking(context.principal)
            self.herald.rate_limiter.take(principal.key_digest)
            hold_connection(self.herald, context.request.scope, principal)
        except HeraldError as error:
            if not isinstance(error, LimitExceeded):
                context.refused()
            raise ConnectionRejectionError({"message": str(error), **error.extensions()}) from None
        unset: UnsetType = UNSET
        return unset

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET naming a persisted query by its hash has no `query` either.
        return super().should_render_graphql_ide(request) and not request.query_params.get(
            "extensions"
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """A persisted query runs the document its hash names (app/api/persisted.py)."""
        query, refusal = await resolve(self.herald, request_data.query, request_data.extensions)
        if refusal is not None:
            return ExecutionResult(data=None, errors=[refusal])
        request_data = replace(request_data, query=query)
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        remember(self.herald, query, request_data.extensions, result)
        return result

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(explorer.page())

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(herald=self.herald, request=request, response=response)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data, parse_constant=_not_json)
        except RecursionError:
            # Nested deeper than the parser's stack: as unreadable as any other bad JSON.
            raise json.JSONDecodeError("nested too deeply", "", 0) from None

    def encode_json(self, data: object) -> str | bytes:
        return data.written if isinstance(data, answers.Written) else answers.encode(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = super().parse_json(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
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
        answer = await super().process_result(request, result)
        cost = (result.extensions or {}).get("cost") or {}
        if cost.get("actualQueryCost", 0) < answers.LARGE:
            return answer
        written = await blocking(answers.encode_in_turns, answer)
        return cast(GraphQLHTTPResponse, answers.Written(dict(answer), written))


def _not_json(constant: str) -> object:
    raise json.JSONDecodeError(f"{constant} is not JSON", constant, 0)


def app_from_env() -> Starlette:
    """For `uvicorn --factory` and `herald serve --workers N`: each worker builds its own."""
    die_with_parent()
    settings = Settings.from_env()
    logs.configure(settings.log_format)
    return create_app(
        settings,
        project=settings.serve_projections,
        tracer_provider=telemetry.provider_from_env(os.environ),
    )


def create_app(
    settings: Settings | None = None,
    herald: Herald | None = None,
    *,
    project: bool = True,
    tracer_provider: Any = None,
) -> Starlette:
    """`tracer_provider`: an OpenTelemetry TracerProvider to trace with (app.telemetry)."""
    herald = herald or Herald(settings, project=project)
    graphql = HeraldGraphQL(herald, tracer_provider)
    presence = Presence(herald)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Writes wait for the disk in threads; asyncio's default pool (cores + 4) would cap how
        # many concurrent drafts can join one group commit, and so the writes per fsync.
        threads = ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="herald")
        asyncio.get_running_loop().set_default_executor(threads)
        # A thread reading a page of content holds the GIL for up to the switch interval each
        # time the event loop wants it back; 5 ms by default, paid several times by every small
        # request of another workspace. A shorter interval is its fair turn.
        sys.setswitchinterval(_SWITCH_INTERVAL)
        herald.start()
        # What start-up made lives as long as the process: a full collection need not walk it
        # again each time (its pauses grew long under many open subscriptions).
        gc.freeze()
        beating = asyncio.create_task(presence.keep_beating())
        try:
            yield
        finally:
            beating.cancel()
            # Leaving is a courtesy (a row without heartbeats goes stale by itself): never
            # hold the shutdown up for it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_LEAVE_SECONDS):
                    await asyncio.to_thread(presence.stop)
            herald.close()
            if tracer_provider is not None:
                tracer_provider.shutdown()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/graphql/stream", sse.endpoint(graphql.schema), methods=SSE_METHODS),
            WebSocketRoute("/graphql", Releasing(graphql)),
            Route("/healthz", health.healthz),
            Route("/readyz", health.readyz),
            Route("/metrics", scrape.endpoint(herald)),
            Route(f"{explorer.ASSET_ROUTE}/{{name}}", explorer.asset),
            *inspector.ROUTES,
        ],
        lifespan=lifespan,
    )
    app.state.herald = herald
    app.add_middleware(
        GraphQLOverHTTP, addresses=guards_of(herald).addresses, keys=herald.rate_limiter
    )
    app.add_middleware(TransportLimits, settings=herald.settings)
    app.add_middleware(Observed)
    if tracer_provider is not None:
        telemetry.instrument(app, tracer_provider)
    return app
