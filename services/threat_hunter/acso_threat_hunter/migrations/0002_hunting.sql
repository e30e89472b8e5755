-- CloudTrail event store, hunting rules and runs, knowledge-base documents.
-- Idempotent (IF NOT EXISTS everywhere) so a re-run after a partial apply is harmless.

-- Every CloudTrail record a hunt or a `cloudtrail.ingest` task reads; triage's local stand-in for
-- cloudtrail:LookupEvents. event_id is CloudTrail's eventID, so re-reading a file adds nothing.
CREATE TABLE IF NOT EXISTS cloudtrail_events (
    event_id        text        PRIMARY KEY,
    event_time      timestamptz NOT NULL,
    event_source    text        NOT NULL,
    event_name      text        NOT NULL,
    principal_arn   text,
    user_name       text,
    access_key_id   text,
    source_ip       text,
    resources       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    raw             jsonb       NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cloudtrail_events_principal ON cloudtrail_events (principal_arn, event_time);
CREATE INDEX IF NOT EXISTS cloudtrail_events_user ON cloudtrail_events (user_name, event_time);
CREATE INDEX IF NOT EXISTS cloudtrail_events_key ON cloudtrail_events (access_key_id, event_time);
CREATE INDEX IF NOT EXISTS cloudtrail_events_time ON cloudtrail_events (event_time);
CREATE INDEX IF NOT EXISTS cloudtrail_events_resources ON cloudtrail_events USING gin (resources);

-- Sigma rules: built-ins are listed here once seen so their enabled state persists.
CREATE TABLE IF NOT EXISTS hunt_rules (
    id              text        PRIMARY KEY,
    title           text        NOT NULL,
    yaml            text        NOT NULL,
    enabled         boolean     NOT NULL DEFAULT true,
    source          text        NOT NULL CHECK (source IN ('builtin', 'user')),
    created_by      text,
    errors          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS hunts (
    id              uuid        PRIMARY KEY,
    status          text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    trigger         text        NOT NULL CHECK (trigger IN ('api', 'schedule')),
    requested_by    text,
    request         jsonb       NOT NULL,
    rule_ids        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    submitted_at    timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz,
    events_read     bigint      NOT NULL DEFAULT 0,
    hits            jsonb       NOT NULL DEFAULT '[]'::jsonb,
    rule_errors     jsonb       NOT NULL DEFAULT '[]'::jsonb,
    alerts_sent     integer     NOT NULL DEFAULT 0,
    error           jsonb
);
CREATE INDEX IF NOT EXISTS hunts_submitted ON hunts (submitted_at DESC);

-- Knowledge-base documents for /v1/intel/search when no Bedrock Knowledge Base is configured.
CREATE TABLE IF NOT EXISTS intel_documents (
    id              text        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('attack', 'runbook', 'intel')),
    title           text        NOT NULL,
    body            text        NOT NULL,
    source          text        NOT NULL,
    uri             text,
    tsv             tsvector    GENERATED ALWAYS AS (
                        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')
                    ) STORED,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS intel_documents_tsv ON intel_documents USING gin (tsv);
