"""OpenTelemetry: off unless the standard variables ask for it; when on, each GraphQL
operation is a span inside its HTTP request's span, and no span holds a message's content."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.runtime import Herald
from app.telemetry import provider_from_env, tracing_requested
from tests.conftest import LiveServer, draft

MESSAGE = "query Read($id: ID!) { message(id: $id) { id text } }"


@pytest.fixture
def spans(herald: Herald) -> Iterator[tuple[LiveServer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with LiveServer(herald, tracer_provider=provider) as server:
        yield server, exporter


def operation_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("GraphQL ")]


def test_each_operation_is_a_span_inside_its_request_and_carries_no_content(
    spans: tuple[LiveServer, InMemorySpanExporter],
) -> None:
    server, exporter = spans
    api = server.client("acme")
    try:
        made = draft(api, "a private word")
        assert api.ok(MESSAGE, {"id": made["id"]})["message"]["text"] == "a private word"
    finally:
        api.close()
    operations = operation_spans(exporter)
    names = [s.name for s in operations if s.name.startswith("GraphQL ") and s.attributes]
    assert names.count("GraphQL mutation draftMessage") == 1
    assert names.count("GraphQL query message") == 1
    read = next(s for s in operations if s.name == "GraphQL query message")
    assert read.attributes is not None
    assert read.attributes["graphql.operation.name"] == "Read"
    assert read.parent is not None, "the operation's span is a child of the request's"
    requests = {s.context.span_id: s for s in exporter.get_finished_spans() if s.parent is None}
    assert read.parent.span_id in requests
    resolvers = [s for s in exporter.get_finished_spans() if s.name == "GraphQL Resolving: message"]
    assert resolvers
    assert resolvers[0].attributes is not None
    assert resolvers[0].attributes["graphql.param.id"] == made["id"]
    everything = repr([(s.name, dict(s.attributes or {})) for s in exporter.get_finished_spans()])
    assert "a private word" not in everything
    # The probes and the scrape are not traced.
    exporter.clear()
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_on_only_when_the_standard_variables_ask_for_it(
    env: dict[str, str], on: bool
) -> None:
    assert tracing_requested(env) is on
    provider = provider_from_env(env)
    assert (provider is not None) is on
    if provider is not None:
        provider.shutdown()


def test_an_exporter_or_protocol_herald_cannot_use_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="zipkin"):
        provider_from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(ValueError, match="grpc"):
        provider_from_env(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        )


def test_serving_without_tracing_imports_no_opentelemetry(tmp_path: Path) -> None:
    code = (
        "import sys; from app.server import app_from_env; app_from_env();"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["HERALD_DATABASE_URL"] = f"sqlite:///{tmp_path}/herald.db"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
