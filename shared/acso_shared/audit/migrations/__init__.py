"""SQL migrations of the audit log, applied by `acso_shared.db.migrations` in name order."""
