-- The reasoning layer's run per triage request: the enriched result is kept so a redelivered
-- request answers the same without paying for the model twice; usage columns for per-workflow and
-- per-incident sums.
CREATE TABLE IF NOT EXISTS th_reasoning_runs (
    request_key     text        PRIMARY KEY,
    purpose         text        NOT NULL,
    workflow_id     text,
    incident_id     text,
    alert_id        text,
    reasoning       text        NOT NULL CHECK (reasoning IN ('llm', 'deterministic')),
    provider        text        NOT NULL,
    model_id        text,
    degraded_reason text,
    model_calls     integer     NOT NULL DEFAULT 0,
    input_tokens    integer     NOT NULL DEFAULT 0,
    output_tokens   integer     NOT NULL DEFAULT 0,
    cost_usd        numeric     NOT NULL DEFAULT 0,
    record          jsonb       NOT NULL,
    result          jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS th_reasoning_runs_workflow ON th_reasoning_runs (workflow_id);
CREATE INDEX IF NOT EXISTS th_reasoning_runs_incident ON th_reasoning_runs (incident_id);
