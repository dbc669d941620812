"""herald serve | project | dispatch | keys create|revoke | projections rebuild|verify |
export-schema | documents add|list | history | status."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SCHEMA_FILE = Path("schema.graphql")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="herald", description="Herald message store")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the GraphQL API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes on this port (default: the number of cores)",
    )
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
    rebuild = projection_actions.add_parser(
        "rebuild", help="replay every event from zero into the views, on every core"
    )
    rebuild.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes replaying messages in parallel (default: the number of cores)",
    )
    projection_actions.add_parser(
        "verify", help="compare every view row with a replay of the events"
    )
    export = commands.add_parser("export-schema", help="write the GraphQL schema (SDL)")
    export.add_argument("--check", action="store_true", help="fail if the file differs")
    export.add_argument("--path", type=Path, default=SCHEMA_FILE)
    documents = commands.add_parser(
        "documents", help="registered documents (HERALD_TRUSTED_DOCUMENTS=1 runs only these)"
    ).add_subparsers(dest="action", required=True)
    add = documents.add_parser(
        "add",
        help="register GraphQL documents: .graphql files, or Apollo persisted-query manifests",
    )
    add.add_argument("files", nargs="+", type=Path)
    documents.add_parser("list", help="print the SHA-256 of every registered document")
    history = commands.add_parser("history", help="print a message's event timeline")
    history.add_argument("message_id")
    history.add_argument(
        "--diff", action="store_true", help="show each revision's word diff from the one before"
    )
    status = commands.add_parser(
        "status", help="positions, lag, each workspace's messages and events, servers"
    )
    status.add_argument("--json", action="store_true", help="print it as JSON")
    args = parser.parse_args(argv)
    from app.logs import configure

    log_format = os.environ.get("HERALD_LOG_FORMAT") or "text"
    configure(log_format)

    if args.command == "export-schema":
        from app.commands import export_schema

        return export_schema(args.path, check=args.check)
    if args.command == "serve":
        from app.serving import serve as run_server

        return run_server(
            args.host,
            args.port,
            max(1, args.workers),
            projections=not args.no_projections,
            log_format=log_format,
        )
    from app import commands as run

    if args.command == "keys" and args.action == "create":
        return run.create_key(args.workspace, args.name)
    if args.command == "keys":
        return run.revoke_keys(args.workspace, args.name, args.key)
    if args.command == "projections" and args.action == "rebuild":
        return run.rebuild(max(1, args.jobs))
    if args.command == "projections":
        return run.verify_views()
    if args.command == "project":
        return run.project()
    if args.command == "dispatch":
        return run.dispatch()
    if args.command == "documents":
        from app.documents_cli import add_documents, list_documents

        return add_documents(args.files) if args.action == "add" else list_documents()
    if args.command == "status":
        return run.status(args.json)
    return run.history(args.message_id, diff=args.diff)


if __name__ == "__main__":
    sys.exit(main())
