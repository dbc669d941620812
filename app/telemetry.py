"""OpenTelemetry tracing, when the standard OTEL_* variables ask for it; otherwise nothing of
OpenTelemetry is imported and no request pays for it.

Tracing is on when OTEL_SDK_DISABLED is not "true" and either OTEL_TRACES_EXPORTER names an
exporter other than "none" ("otlp", "console", or both, comma-separated), or
OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (then "otlp"). OTLP goes
over HTTP/protobuf. The SDK reads the rest itself: OTEL_SERVICE_NAME (default "herald"),
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, OTEL_EXPORTER_OTLP_* (headers,
timeout, certificates). Spans: one per HTTP request or WebSocket (the ASGI instrumentation),
one per GraphQL operation inside it, and one per resolver. They carry no message content:
neither the document (which may hold text inline) nor arguments other than ids and paging."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from starlette.applications import Starlette

_ON = ("otlp", "console")
_SAFE_ARGUMENTS = frozenset({"id", "messageId", "version", "first", "after"})


def tracing_requested(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER")
    if exporters is not None:
        return exporters.strip().lower() not in ("", "none")
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def provider_from_env(env: Mapping[str, str]) -> Any:
    """A TracerProvider exporting as the variables say, or None when tracing is off."""
    if not tracing_requested(env):
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    names = [n.strip().lower() for n in (env.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")]
    unknown = [n for n in names if n and n not in (*_ON, "none")]
    if unknown:
        raise ValueError(f"OTEL_TRACES_EXPORTER: Herald exports to otlp or console, not {unknown}")
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if "otlp" in names and protocol != "http/protobuf":
        raise ValueError(f"OTLP protocol {protocol!r} is not supported: use http/protobuf")
    service = env.get("OTEL_SERVICE_NAME") or "herald"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    for name in names:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider


def instrument(app: Starlette, provider: Any) -> None:
    """A span per request, outermost; the probes and the scrape are left out."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(
        OpenTelemetryMiddleware,
        excluded_urls="/healthz,/readyz,/metrics",
        tracer_provider=provider,
    )


def _safe_arguments(arguments: dict[str, Any], _info: Any) -> dict[str, Any]:
    return {k: v for k, v in arguments.items() if k in _SAFE_ARGUMENTS}


def traced_operations(provider: Any) -> Any:
    """The schema extension making a span of each operation, with the `provider`."""
    from opentelemetry.trace import SpanKind
    from strawberry.extensions import LifecycleStep
    from strawberry.extensions.tracing import OpenTelemetryExtension

    from app.api.measure import code_of, operation_of

    class TracedOperation(OpenTelemetryExtension):
        """strawberry's extension, without the document among the span's attributes, and
        named after the operation's type and root field."""

        def on_operation(self) -> Generator[None, None, None]:
            # Started in the request's context (its parent is the HTTP span) but not made
            # current: a subscription's operation outlives the context it was entered in.
            span = self._tracer.start_span("GraphQL operation", kind=SpanKind.SERVER)
            self._span_holder[LifecycleStep.OPERATION] = span
            try:
                yield
                kind, operation = operation_of(self.execution_context)
                span.update_name(f"GraphQL {kind} {operation}")
                span.set_attribute("graphql.operation.type", kind)
                span.set_attribute("herald.operation", operation)
                if self.execution_context.operation_name:
                    span.set_attribute(
                        "graphql.operation.name", self.execution_context.operation_name[:100]
                    )
                errors = getattr(self.execution_context.result, "errors", None) or ()
                if errors:
                    span.set_attribute("herald.error.code", code_of(errors[0]))
            finally:
                span.end()

    return lambda: TracedOperation(arg_filter=_safe_arguments, tracer_provider=provider)
