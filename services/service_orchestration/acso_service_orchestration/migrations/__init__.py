"""SQL migrations of the service-orchestration service (applied at start)."""
