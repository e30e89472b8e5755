"""PostgreSQL access: one asyncpg pool per process and versioned migrations."""

from acso_shared.db.database import Database
from acso_shared.db.migrations import Migration, MigrationSet, apply_migrations

__all__ = ["Database", "Migration", "MigrationSet", "apply_migrations"]
