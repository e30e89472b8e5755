"""The append-only, hash-chained audit log (records, verification, export; SQL in migrations/)."""
