"""herald serve | project | dispatch | keys | projections | export-schema | history."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

SCHEMA_FILE = Path("schema.graphql")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="herald", description="Herald message store")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the GraphQL API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes on this port")
    serve.add_argument(
        "--no-projections",
        action="store_true",
        help="leave the views to a separate `herald project` process",
    )
    commands.add_parser("project", help="run the projections as a process of its own")
    commands.add_parser("dispatch", help="send webhooks, as a process of its own")
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create an API key, printed as the last line")
    create.add_argument("--workspace", required=True)
    create.add_argument("--name", default=None, help="the key's name, recorded as the actor")
    revoke = keys.add_parser("revoke", help="revoke keys at once, also for open subscriptions")
    revoke.add_argument("--workspace", required=True)
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="revoke every key of this name in the workspace")
    which.add_argument("--key", help="revoke this one key")
    projections = commands.add_parser("projections", help="manage the read models")
    projection_actions = projections.add_subparsers(dest="action", required=True)
    projection_actions.add_parser("rebuild", help="replay every event from zero into the views")
    projection_actions.add_parser(
        "verify", help="compare every view row with a replay of the events"
    )
    export = commands.add_parser("export-schema", help="write the GraphQL schema (SDL)")
    export.add_argument("--check", action="store_true", help="fail if the file differs")
    export.add_argument("--path", type=Path, default=SCHEMA_FILE)
    history = commands.add_parser("history", help="print a message's event timeline")
    history.add_argument("message_id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    if args.command == "export-schema":
        from app.commands import export_schema

        return export_schema(args.path, check=args.check)
    if args.command == "serve":
        import os

        import uvicorn

        if args.no_projections:
            os.environ["HERALD_SERVE_PROJECTIONS"] = "0"
        uvicorn.run(
            "app.server:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
        )
        return 0
    from app import commands as run

    if args.command == "keys" and args.action == "create":
        return run.create_key(args.workspace, args.name)
    if args.command == "keys":
        return run.revoke_keys(args.workspace, args.name, args.key)
    if args.command == "projections" and args.action == "rebuild":
        return run.rebuild()
    if args.command == "projections":
        return run.verify_views()
    if args.command == "project":
        return run.project()
    if args.command == "dispatch":
        return run.dispatch()
    return run.history(args.message_id)


if __name__ == "__main__":
    sys.exit(main())
