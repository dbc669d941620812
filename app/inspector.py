"""The history inspector: a page for people at /inspect and /inspect/messages/{id}.

Everything it loads comes from Herald itself, under a Content-Security-Policy that allows this
origin only: its own modules (app/static/inspector/) and graphql-ws's browser build, installed
from npm by the setup command (pinned by app/static/package-lock.json). The browser checks each
script and style against an integrity hash. The API key never reaches the server except in the
Authorization header (and a WebSocket's connection parameters): it is kept in sessionStorage, and
a link may carry it in the fragment (#key=…), which browsers never send."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

STATIC = Path(__file__).parent / "static"
ASSET_ROUTE = "/inspect/assets"
MODULES = ("main.js", "api.js", "dom.js", "list.js", "message.js", "parts.js")
# Pinned like the explorer's: a changed file in node_modules is refused by the browser.
GRAPHQL_WS = (
    STATIC / "node_modules" / "graphql-ws" / "umd" / "graphql-ws.min.js",
    "sha384-mxvR4Mzbsb6QVx/9xI2gtQikQA6m8zMDBFnu3l//4/ROsWt7y2sUGWd+/tYQqDm7",
)
FILES = {name: STATIC / "inspector" / name for name in (*MODULES, "inspector.css", "icon.svg")}
FILES["graphql-ws.js"] = GRAPHQL_WS[0]


@cache
def integrity(name: str) -> str:
    """The hash the page pins for one of its own files (they ship with Herald's code)."""
    if name == "graphql-ws.js":
        return GRAPHQL_WS[1]
    digest = hashlib.sha384(FILES[name].read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def policy(request: Request) -> str:
    websocket = ("wss://" if request.url.scheme == "https" else "ws://") + request.url.netloc
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src 'self' {websocket}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        )
    )


def _page() -> str:
    def tag(name: str, template: str) -> str:
        return template.format(url=f"{ASSET_ROUTE}/{name}", integrity=integrity(name))

    live = (
        tag("graphql-ws.js", '<script src="{url}" integrity="{integrity}" defer></script>')
        if GRAPHQL_WS[0].is_file()
        else ""
    )
    preloads = "\n  ".join(
        tag(name, '<link rel="modulepreload" href="{url}" integrity="{integrity}">')
        for name in MODULES
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>Herald · History inspector</title>
  <link rel="icon" href="{ASSET_ROUTE}/icon.svg" type="image/svg+xml">
  {tag("inspector.css", '<link rel="stylesheet" href="{url}" integrity="{integrity}">')}
  {live}
  {preloads}
  {tag("main.js", '<script type="module" src="{url}" integrity="{integrity}"></script>')}
</head>
<body data-live="{"yes" if live else "no"}">
  <a class="skip" href="#main">Skip to the content</a>
  <header class="top">
    <a class="brand" href="/inspect" data-nav>Herald · History inspector</a>
    <nav id="account" aria-label="Account"></nav>
  </header>
  <p id="announce" class="announce" role="status" aria-live="polite"></p>
  <main id="main" tabindex="-1"><p>Loading the inspector…</p></main>
  <noscript>The inspector needs JavaScript.</noscript>
</body>
</html>
"""


async def page(request: Request) -> Response:
    return HTMLResponse(
        _page(),
        headers={
            "content-security-policy": policy(request),
            "referrer-policy": "no-referrer",
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
        },
    )


async def asset(request: Request) -> Response:
    path = FILES.get(request.path_params["name"])
    if path is None or not path.is_file():
        return Response("no such asset", status_code=404, media_type="text/plain")
    media = {".css": "text/css", ".svg": "image/svg+xml"}.get(path.suffix, "text/javascript")
    return FileResponse(
        path,
        media_type=media,
        headers={"x-content-type-options": "nosniff", "cache-control": "no-cache"},
    )


ROUTES = [
    Route("/inspect", page),
    Route("/inspect/messages/{id}", page),
    Route(f"{ASSET_ROUTE}/{{name}}", asset),
]
