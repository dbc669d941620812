"""Persisted documents. Apollo's automatic persisted queries: a request may name its document
by the SHA-256 of its text (`extensions.persistedQuery.sha256Hash`) and leave the text out;
a hash the server does not know is answered PersistedQueryNotFound, and the client sends the
text with the hash, which the server then remembers (in memory, a bounded number of bounded
documents). Registered documents (`herald documents add`) are known by every process.

With HERALD_TRUSTED_DOCUMENTS=1 only registered documents run, whatever the transport: the
check is a schema extension, so HTTP, WebSocket and SSE refuse the same documents alike."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from app.documents import Documents, sha256_of
from app.runtime import Herald

from .context import Context, blocking
from .per_herald import per_herald

_HASH = re.compile(r"[0-9a-f]{64}")


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class Remembered:
    """Documents clients registered by hash, the least recently used forgotten first; one
    over the size limit is run but not remembered (its client sends it each time)."""

    def __init__(self, count: int, size: int) -> None:
        self.count = count
        self.size = size
        self._lock = threading.Lock()
        self._texts: OrderedDict[str, str] = OrderedDict()

    def get(self, digest: str) -> str | None:
        with self._lock:
            text = self._texts.get(digest)
            if text is not None:
                self._texts.move_to_end(digest)
            return text

    def put(self, digest: str, text: str) -> None:
        if len(text.encode("utf-8")) > self.size:
            return
        with self._lock:
            self._texts[digest] = text
            self._texts.move_to_end(digest)
            while len(self._texts) > self.count:
                self._texts.popitem(last=False)


documents_of = per_herald(lambda herald: Documents(herald.store.db, herald.settings))
remembered_of = per_herald(
    lambda herald: Remembered(herald.settings.apq_documents, herald.settings.apq_document_bytes)
)


def registered(herald: Herald, digest: str) -> str | None:
    """Blocking: may read the database (and, the first time, create the documents' table)."""
    return documents_of(herald).find(digest)


async def resolve(
    herald: Herald, query: str | None, extensions: dict[str, Any] | None
) -> tuple[str | None, GraphQLError | None]:
    """The document to run, as sent or as its hash names it; or why there is none."""
    asked = (extensions or {}).get("persistedQuery")
    if asked is None:
        return query, None
    if not isinstance(asked, dict) or asked.get("version") != 1:
        return None, _refusal("Unsupported persisted query version", "VALIDATION_FAILED")
    digest = asked.get("sha256Hash")
    if not isinstance(digest, str) or not _HASH.fullmatch(digest):
        return None, _refusal("sha256Hash must be 64 lowercase hex digits", "VALIDATION_FAILED")
    if query is not None:
        if sha256_of(query) != digest:
            return None, _refusal("provided sha does not match query", "VALIDATION_FAILED")
        return query, None
    found = None if herald.settings.trusted_documents else remembered_of(herald).get(digest)
    if found is None:
        found = await blocking(registered, herald, digest)
    if found is None:
        return None, _refusal("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    return found, None


def remember(
    herald: Herald, query: str | None, extensions: dict[str, Any] | None, result: ExecutionResult
) -> None:
    """After a request that sent its text with its hash: remember it if the document ran
    (parsed and validated). Never in trusted mode, where only the operator registers."""
    asked = (extensions or {}).get("persistedQuery")
    ran = result.data is not None or any(error.path for error in result.errors or [])
    if ran and query is not None and isinstance(asked, dict):
        digest = asked.get("sha256Hash")
        if not herald.settings.trusted_documents and digest == sha256_of(query):
            remembered_of(herald).put(digest, query)


class TrustedDocuments(SchemaExtension):
    """In trusted mode, a document that is not registered fails validation with FORBIDDEN.
    It must run after the validation cache, which sets the document's own errors."""

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if isinstance(context, Context) and context.herald.settings.trusted_documents:
            digest = sha256_of(execution.query or "")
            if await blocking(registered, context.herald, digest) is None:
                refusal = _refusal(
                    "only registered documents run here (HERALD_TRUSTED_DOCUMENTS=1): ask the "
                    "operator to add this one with `herald documents add`",
                    "FORBIDDEN",
                )
                execution.pre_execution_errors = [*(execution.pre_execution_errors or []), refusal]
        yield
