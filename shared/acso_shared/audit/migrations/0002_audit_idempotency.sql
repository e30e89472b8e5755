-- Automated actions are recorded from queue handlers that may run again after a crash; an entry
-- appended with an idempotency key (kept in details, so it is covered by the hash) is stored once.
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_idempotency_key_idx
    ON audit_log ((details->>'idempotency_key'))
    WHERE details->>'idempotency_key' IS NOT NULL;
