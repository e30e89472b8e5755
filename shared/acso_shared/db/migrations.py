"""Versioned SQL migrations, one ordered set per component, applied once under an advisory lock.

Each component (a service, or a shared module such as the audit log) keeps `NNNN_name.sql` files in
a `migrations/` folder. Applied versions are recorded with a checksum; an applied file that
changed afterwards is an error, not silently re-run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import asyncpg

from acso_shared.errors import Conflict

_LOCK_KEY = 0x4AC50  # any constant shared by every migrator


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationSet:
    component: str
    migrations: tuple[Migration, ...]

    @classmethod
    def from_package(cls, component: str, package: str) -> MigrationSet:
        """Load `package`'s `*.sql` files (e.g. `acso_supervisor.migrations`) in name order."""
        files = sorted(
            (entry for entry in resources.files(package).iterdir() if entry.name.endswith(".sql")),
            key=lambda entry: entry.name,
        )
        migrations = []
        for entry in files:
            version, _, rest = entry.name.partition("_")
            migrations.append(Migration(version=version, name=rest.removesuffix(".sql"), sql=entry.read_text()))
        return cls(component, tuple(migrations))


async def apply_migrations(dsn: str, sets: list[MigrationSet]) -> list[str]:
    """Apply what is missing of each set, in order; return `component:version` of each applied."""
    applied: list[str] = []
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    component text NOT NULL,
                    version text NOT NULL,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (component, version)
                )
                """
            )
            for migration_set in sets:
                rows = await connection.fetch(
                    "SELECT version, checksum FROM schema_migrations WHERE component = $1", migration_set.component
                )
                done = {row["version"]: row["checksum"] for row in rows}
                for migration in migration_set.migrations:
                    if migration.version in done:
                        if done[migration.version] != migration.checksum:
                            raise Conflict(
                                "migration_changed",
                                f"{migration_set.component} migration {migration.version} changed after it was applied",
                            )
                        continue
                    async with connection.transaction():
                        await connection.execute(migration.sql)
                        await connection.execute(
                            "INSERT INTO schema_migrations (component, version, name, checksum)"
                            " VALUES ($1, $2, $3, $4)",
                            migration_set.component,
                            migration.version,
                            migration.name,
                            migration.checksum,
                        )
                    applied.append(f"{migration_set.component}:{migration.version}")
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await connection.close()
    return applied
