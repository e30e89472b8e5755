-- Incidents, their timeline, comments, containment actions and approvals, and an outbox so that
-- notifications and follow-up tasks are sent at least once even if the process dies after commit.

CREATE TABLE IF NOT EXISTS ir_incidents (
    id            text        PRIMARY KEY,
    title         text        NOT NULL,
    summary       text        NOT NULL DEFAULT '',
    status        text        NOT NULL CHECK (status IN ('new', 'triaged', 'contained', 'eradicated', 'recovered', 'closed')),
    severity      text        NOT NULL,
    verdict       text        NOT NULL,
    confidence    double precision NOT NULL DEFAULT 0,
    assignee      text,
    finding_type  text        NOT NULL,
    account_id    text,
    fingerprint   text        NOT NULL,
    workflow_id   text,
    playbook      text,
    techniques    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    alert_count   integer     NOT NULL DEFAULT 1,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    resolution    text,
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    triaged_at    timestamptz,
    contained_at  timestamptz,
    closed_at     timestamptz
);
CREATE INDEX IF NOT EXISTS ir_incidents_list_idx ON ir_incidents (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS ir_incidents_status_idx ON ir_incidents (status, created_at DESC);

CREATE TABLE IF NOT EXISTS ir_incident_alerts (
    incident_id text        NOT NULL REFERENCES ir_incidents (id),
    alert_id    text        NOT NULL,
    -- Alerts folded in later arrive as bare ids (`incident.alerts_updated`): details may be empty.
    source      text        NOT NULL DEFAULT '',
    type        text        NOT NULL DEFAULT '',
    title       text        NOT NULL DEFAULT '',
    occurred_at timestamptz,
    PRIMARY KEY (incident_id, alert_id)
);

CREATE TABLE IF NOT EXISTS ir_incident_observables (
    incident_id text NOT NULL REFERENCES ir_incidents (id),
    type        text NOT NULL,
    value       text NOT NULL,
    PRIMARY KEY (incident_id, type, value)
);

CREATE TABLE IF NOT EXISTS ir_timeline (
    id          bigserial   PRIMARY KEY,
    incident_id text        NOT NULL REFERENCES ir_incidents (id),
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind        text        NOT NULL,
    actor       text        NOT NULL,
    summary     text        NOT NULL,
    data        jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS ir_timeline_incident_idx ON ir_timeline (incident_id, id);

CREATE TABLE IF NOT EXISTS ir_comments (
    id          bigserial   PRIMARY KEY,
    incident_id text        NOT NULL REFERENCES ir_incidents (id),
    author      text        NOT NULL,
    text        text        NOT NULL,
    source      text        NOT NULL DEFAULT 'acso',
    external_key text       UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ir_comments_incident_idx ON ir_comments (incident_id, id);

CREATE TABLE IF NOT EXISTS ir_actions (
    id           text        PRIMARY KEY,
    incident_id  text        NOT NULL REFERENCES ir_incidents (id),
    playbook     text        NOT NULL,
    step         text        NOT NULL,
    seq          integer     NOT NULL,
    action_type  text        NOT NULL,
    target       text        NOT NULL,
    target_user  text,
    account_id   text,
    risk         text        NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    dry_run      boolean     NOT NULL DEFAULT false,
    params       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    after_steps  jsonb       NOT NULL DEFAULT '[]'::jsonb,
    status       text        NOT NULL CHECK (status IN
                     ('planned', 'pending_approval', 'running', 'succeeded', 'failed', 'reverted', 'rejected', 'blocked')),
    reason       text,
    before_state jsonb,
    after_state  jsonb,
    error        text,
    attempts     integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    reverted_at  timestamptz,
    reverted_by  text,
    -- One action per (incident, playbook step, target): replanning is a no-op.
    UNIQUE (incident_id, step, target)
);
CREATE INDEX IF NOT EXISTS ir_actions_account_started_idx ON ir_actions (account_id, started_at);

CREATE TABLE IF NOT EXISTS ir_approvals (
    id           text        PRIMARY KEY,
    action_id    text        NOT NULL UNIQUE REFERENCES ir_actions (id),
    incident_id  text        NOT NULL REFERENCES ir_incidents (id),
    status       text        NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    expired      boolean     NOT NULL DEFAULT false,
    requested_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    decided_by   text,
    decided_at   timestamptz,
    comment      text
);
CREATE INDEX IF NOT EXISTS ir_approvals_pending_idx ON ir_approvals (status, expires_at);

CREATE TABLE IF NOT EXISTS ir_outbox (
    id         bigserial   PRIMARY KEY,
    dedupe_key text        NOT NULL UNIQUE,
    kind       text        NOT NULL CHECK (kind IN ('event', 'sns', 'result', 'task')),
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts   integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    sent_at    timestamptz
);
CREATE INDEX IF NOT EXISTS ir_outbox_unsent_idx ON ir_outbox (next_attempt_at, id) WHERE sent_at IS NULL;
