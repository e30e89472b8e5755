"""SQL migrations of the threat-hunter agent, applied in file-name order by acso_shared.db."""
