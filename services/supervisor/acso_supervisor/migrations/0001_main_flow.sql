-- The supervisor's share of the main flow: received alerts, their correlation into incidents,
-- and the persisted workflow engine (one row per workflow and per step).

CREATE TABLE IF NOT EXISTS incident_groups (
    incident_id uuid PRIMARY KEY,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    lifecycle text NOT NULL DEFAULT 'new',
    severity text NOT NULL,
    title text NOT NULL,
    alert_count integer NOT NULL DEFAULT 0,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    last_activity timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS incident_groups_open_idx ON incident_groups (status, last_activity DESC);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id uuid PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incident_groups (incident_id),
    fingerprint text NOT NULL,
    source text NOT NULL,
    source_format text NOT NULL,
    type text NOT NULL,
    severity text NOT NULL,
    title text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    last_received_at timestamptz NOT NULL DEFAULT now(),
    occurrences integer NOT NULL DEFAULT 1,
    outcome text NOT NULL,
    normalized jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_fingerprint_idx ON alerts (fingerprint, last_received_at DESC);
CREATE INDEX IF NOT EXISTS alerts_incident_idx ON alerts (incident_id, received_at);
CREATE INDEX IF NOT EXISTS alerts_received_idx ON alerts (received_at DESC);

CREATE TABLE IF NOT EXISTS correlation_keys (
    key text NOT NULL,
    incident_id uuid NOT NULL REFERENCES incident_groups (incident_id),
    last_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, incident_id)
);
CREATE INDEX IF NOT EXISTS correlation_keys_recent_idx ON correlation_keys (key, last_seen DESC);

CREATE TABLE IF NOT EXISTS workflows (
    workflow_id uuid PRIMARY KEY,
    kind text NOT NULL,
    incident_id uuid REFERENCES incident_groups (incident_id),
    alert_id uuid,
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX IF NOT EXISTS workflows_incident_idx ON workflows (incident_id);
CREATE INDEX IF NOT EXISTS workflows_status_idx ON workflows (status, updated_at);

CREATE TABLE IF NOT EXISTS workflow_steps (
    workflow_id uuid NOT NULL REFERENCES workflows (workflow_id),
    step text NOT NULL,
    position integer NOT NULL,
    agent text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'completed', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    idempotency_key text NOT NULL,
    envelope jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    deadline_at timestamptz,
    completed_at timestamptz,
    result jsonb,
    error text,
    PRIMARY KEY (workflow_id, step)
);
CREATE INDEX IF NOT EXISTS workflow_steps_due_idx ON workflow_steps (status, deadline_at);
