-- Alert counts that arrive before incident response has opened the incident (the supervisor folds
-- repeats while triage is still running). Kept here and merged when the incident is created, so
-- an early update is applied rather than retried into the DLQ.
CREATE TABLE IF NOT EXISTS ir_pending_alert_counts (
    incident_id text PRIMARY KEY,
    alert_count integer NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    alert_ids text[] NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now()
);
