-- Service orchestration: ITSM ticket mappings and sync state, operations (change records).
-- Tables are prefixed `so_`: every agent shares one database.

-- One incident is one ticket per ITSM system.
CREATE TABLE IF NOT EXISTS so_tickets (
    incident_id       text        NOT NULL,
    system            text        NOT NULL CHECK (system IN ('servicenow', 'jira', 'webhook')),
    external_id       text        NOT NULL,
    external_key      text,
    url               text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_inbound_at   timestamptz,
    last_inbound_state text,
    PRIMARY KEY (incident_id, system)
);
CREATE INDEX IF NOT EXISTS so_tickets_external ON so_tickets (system, external_id);

-- The outbound sync of one incident to one system: the latest snapshot and how pushing it went.
CREATE TABLE IF NOT EXISTS so_ticket_sync (
    incident_id       text        NOT NULL,
    system            text        NOT NULL,
    snapshot          jsonb       NOT NULL,
    snapshot_at       timestamptz NOT NULL,
    revision          integer     NOT NULL DEFAULT 1,
    synced_revision   integer     NOT NULL DEFAULT 0,
    status            text        NOT NULL CHECK (status IN ('pending', 'synced', 'failing')),
    attempts          integer     NOT NULL DEFAULT 0,
    last_error        text,
    last_attempt_at   timestamptz,
    last_synced_at    timestamptz,
    next_retry_at     timestamptz,
    lease_owner       text,
    lease_until       timestamptz,
    PRIMARY KEY (incident_id, system)
);
CREATE INDEX IF NOT EXISTS so_ticket_sync_due ON so_ticket_sync (next_retry_at) WHERE status <> 'synced';

-- Which incident comments already went to which ticket, so each is sent once.
CREATE TABLE IF NOT EXISTS so_ticket_comments (
    incident_id       text        NOT NULL,
    system            text        NOT NULL,
    comment_key       text        NOT NULL,
    sent_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, system, comment_key)
);

-- Operations: each one is a change request with its risk, approval, window check and results.
CREATE TABLE IF NOT EXISTS so_operations (
    id                uuid        PRIMARY KEY,
    request_key       text        UNIQUE,
    operation         text        NOT NULL,
    status            text        NOT NULL CHECK (status IN
                        ('pending_approval', 'approved', 'running', 'succeeded', 'failed', 'partially_failed')),
    risk              text        NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    approval_required boolean     NOT NULL,
    approval_reasons  jsonb       NOT NULL DEFAULT '[]'::jsonb,
    requested_by      text        NOT NULL,
    requested_by_name text        NOT NULL,
    requested_via     text        NOT NULL CHECK (requested_via IN ('api', 'agent')),
    approved_by       text,
    approved_at       timestamptz,
    incident_id       text,
    reason            text        NOT NULL DEFAULT '',
    document          text        NOT NULL,
    parameters        jsonb       NOT NULL,
    target            jsonb       NOT NULL,
    max_concurrency   text        NOT NULL,
    max_errors        text        NOT NULL,
    emergency         boolean     NOT NULL DEFAULT false,
    window_check      jsonb       NOT NULL,
    rollback_plan     text,
    compliance        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    reply_to          jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    summary           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- The process running the operation holds a lease; a lapsed lease means it died mid-run.
    lease_owner       text,
    lease_until       timestamptz
);
CREATE INDEX IF NOT EXISTS so_operations_created ON so_operations (created_at DESC);
CREATE INDEX IF NOT EXISTS so_operations_status ON so_operations (status);

CREATE TABLE IF NOT EXISTS so_operation_instances (
    operation_id      uuid        NOT NULL REFERENCES so_operations (id) ON DELETE CASCADE,
    instance_id       text        NOT NULL,
    status            text        NOT NULL,
    command_id        text,
    response_code     integer,
    stdout            text,
    stderr            text,
    started_at        timestamptz,
    finished_at       timestamptz,
    PRIMARY KEY (operation_id, instance_id)
);
