"""The GraphiQL explorer page. Its scripts and styles come from Herald itself when the setup
command installed them (npm, pinned by package-lock.json), else from the public CDN; either way
the browser checks each against the same pinned integrity hash."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

MODULES = Path(__file__).parent / "static" / "node_modules"
ASSET_ROUTE = "/graphiql/assets"


@dataclass(frozen=True)
class Asset:
    name: str
    module_path: str
    cdn: str
    integrity: str

    @property
    def local(self) -> Path:
        return MODULES / self.module_path


ASSETS = {
    a.name: a
    for a in (
        Asset(
            "react.js",
            "react/umd/react.production.min.js",
            "https://unpkg.com/react@18.2.0/umd/react.production.min.js",
            "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
        ),
        Asset(
            "react-dom.js",
            "react-dom/umd/react-dom.production.min.js",
            "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js",
            "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
        ),
        Asset(
            "graphiql.css",
            "graphiql/graphiql.min.css",
            "https://unpkg.com/graphiql@3.8.3/graphiql.min.css",
            "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
        ),
        Asset(
            "graphiql.js",
            "graphiql/graphiql.min.js",
            "https://unpkg.com/graphiql@3.8.3/graphiql.min.js",
            "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
        ),
    )
}

EXAMPLE = """# Welcome to Herald. Put your key in the Headers tab below, then run this.
mutation Draft {
  draftMessage(input: {conversationId: "support-42", text: "Hi! Your order shipped.",
                       requiresApproval: true}) {
    id version status text
  }
}

query Recent {
  messages(first: 10) {
    edges { node { id status text history { edges { node { type actor occurredAt } } } } }
  }
}
"""
HEADERS = '{\n  "Authorization": "Bearer <paste your key from herald keys create>"\n}'


def installed() -> bool:
    return all(asset.local.is_file() for asset in ASSETS.values())


def page() -> str:
    local = installed()

    def url(name: str) -> str:
        return f"{ASSET_ROUTE}/{name}" if local else ASSETS[name].cdn

    def attrs(name: str) -> str:
        return f'integrity="{ASSETS[name].integrity}" crossorigin="anonymous"'

    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Herald · GraphiQL</title>
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="{url("graphiql.css")}" {attrs("graphiql.css")}>
  <script src="{url("react.js")}" {attrs("react.js")}></script>
  <script src="{url("react-dom.js")}" {attrs("react-dom.js")}></script>
  <script src="{url("graphiql.js")}" {attrs("graphiql.js")}></script>
</head>
<body data-assets="{"local" if local else "cdn"}">
  <div id="graphiql">Loading the explorer…</div>
  <script>
    const fetcher = GraphiQL.createFetcher({{
      url: window.location.href.split("#")[0].split("?")[0],
      subscriptionUrl: window.location.href.split("#")[0].split("?")[0].replace(/^http/, "ws"),
    }});
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultQuery: {json.dumps(EXAMPLE)},
        defaultHeaders: {json.dumps(HEADERS)},
        defaultEditorToolsVisibility: "headers",
        shouldPersistHeaders: true,
      }})
    );
  </script>
</body>
</html>
"""


async def asset(request: Request) -> Response:
    found = ASSETS.get(request.path_params["name"])
    if found is None or not found.local.is_file():
        return Response("no such asset", status_code=404, media_type="text/plain")
    return FileResponse(found.local, headers={"cache-control": "public, max-age=86400"})
