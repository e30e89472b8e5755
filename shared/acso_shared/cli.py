"""`acso`: the command line of the local stack and of operators.

acso run [--fresh]            start the whole system locally (what `make run` calls); --fresh: from nothing
acso token --role ROLE        print an access token of the demo user with that role
acso demo [--json]            seed the running emulator with what the alert fixtures name, send the alerts
acso provision                create the manifest's resources at AWS_ENDPOINT_URL (compose init)
acso migrate                  apply every component's database migrations to ACSO_DATABASE_URL
acso audit verify             check the audit log's hash chain (exit 1 when it is broken)
acso audit export [--after-seq N] [--output FILE]   the audit log as JSON lines for a SIEM
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.hunting.cli import register as register_hunting
from acso_shared.resources import ROLES


def cmd_run(args: argparse.Namespace) -> int:
    from acso_shared.local.stack import LauncherSettings, run

    settings = LauncherSettings()
    if args.fresh:
        settings = settings.model_copy(update={"fresh": True})
    return run(settings)


def _running_system() -> tuple[Any, Any, dict[str, Any]] | None:
    """The launcher's settings, provisioned stack and state of the system running here, if any."""
    from acso_shared.local.stack import LOCAL_CREDENTIALS, LauncherSettings
    from acso_shared.provision import ProvisionedStack

    settings = LauncherSettings()
    try:
        stack = ProvisionedStack.from_json((settings.run_dir / "stack.json").read_text())
        state: dict[str, Any] = json.loads((settings.run_dir / "state.json").read_text())
    except FileNotFoundError:
        print("ACSO is not running here: start it with `make run` first.", file=sys.stderr)
        return None
    for key, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    return settings.model_copy(update={"aws_endpoint_url": state["emulator_url"]}), stack, state


def cmd_token(args: argparse.Namespace) -> int:
    from acso_shared.provision import user_token

    running = _running_system()
    if running is None:
        return 1
    settings, stack, _ = running

    async def fetch() -> str:
        clients = AwsClientFactory(settings)
        try:
            username = settings.manifest.demo_users[args.role]
            return str(await user_token(clients, stack, username, stack.demo_passwords[args.role]))
        finally:
            await clients.aclose()

    print(asyncio.run(fetch()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from acso_shared.local.demo import describe, run_demo
    from acso_shared.provision import user_token

    running = _running_system()
    if running is None:
        return 1
    settings, stack, state = running
    services = state["services"]

    async def go() -> int:
        clients = AwsClientFactory(settings)
        try:
            role = "responder"
            token = await user_token(clients, stack, settings.manifest.demo_users[role], stack.demo_passwords[role])
            report = await run_demo(
                clients,
                supervisor_url=services["supervisor"],
                incident_response_url=services["incident_response"],
                token=token,
                wait_s=args.wait,
            )
        finally:
            await clients.aclose()
        print(report.to_json() if args.json else describe(report, services["incident_response"]))
        return 0

    return asyncio.run(go())


def cmd_provision(_: argparse.Namespace) -> int:
    from acso_shared.provision import Provisioner
    from acso_shared.settings import AcsoSettings

    settings = AcsoSettings()

    async def go() -> str:
        clients = AwsClientFactory(settings)
        try:
            stack = await Provisioner(clients, settings.manifest).provision()
            return stack.to_json()
        finally:
            await clients.aclose()

    print(asyncio.run(go()))
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from acso_shared.db import apply_migrations
    from acso_shared.db.registry import all_migrations
    from acso_shared.settings import ServiceSettings

    settings = ServiceSettings()
    applied = asyncio.run(apply_migrations(settings.database_url.get_secret_value(), all_migrations()))
    print("\n".join(applied) if applied else "database is up to date")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from acso_shared.audit.repository import AuditLog
    from acso_shared.db import Database
    from acso_shared.settings import ServiceSettings

    async def go(out: TextIO) -> int:
        database = Database(ServiceSettings().database_url.get_secret_value(), min_size=1, max_size=2)
        await database.connect()
        try:
            audit = AuditLog(database)
            if args.audit_command == "verify":
                report = await audit.verify()
                out.write(report.model_dump_json() + "\n")
                return 0 if report.ok else 1
            async for line in audit.export(after_seq=args.after_seq):
                out.write(line)
            return 0
        finally:
            await database.close()

    if getattr(args, "output", None):
        with open(args.output, "w", encoding="utf-8") as out:
            return asyncio.run(go(out))
    return asyncio.run(go(sys.stdout))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="acso", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the whole system locally")
    run.add_argument("--fresh", action="store_true", help="start from nothing: new emulator, empty database")
    run.set_defaults(func=cmd_run)
    token = commands.add_parser("token", help="print a demo user's access token")
    token.add_argument("--role", choices=ROLES, default="analyst")
    token.set_defaults(func=cmd_token)
    demo = commands.add_parser("demo", help="seed the emulator with the alert fixtures' resources, send the alerts")
    demo.add_argument("--json", action="store_true", help="print what was seeded and sent as JSON")
    demo.add_argument(
        "--wait", type=float, default=90.0, help="seconds to wait for the crypto-mining approval (0: do not wait)"
    )
    demo.set_defaults(func=cmd_demo)
    commands.add_parser("provision", help="create the manifest's AWS resources").set_defaults(func=cmd_provision)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    audit = commands.add_parser("audit", help="verify or export the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    audit.add_parser("verify", help="check the hash chain").set_defaults(func=cmd_audit)
    export = audit.add_parser("export", help="write the audit log as JSON lines")
    export.add_argument("--after-seq", type=int, default=0, help="only records after this sequence number")
    export.add_argument("--output", help="a file to write (default: stdout)")
    export.set_defaults(func=cmd_audit)
    register_hunting(commands)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
