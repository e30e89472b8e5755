"""SQL migrations of the financial-intelligence service (applied at start and by the launcher)."""
