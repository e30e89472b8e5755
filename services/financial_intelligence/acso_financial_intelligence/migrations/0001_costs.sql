-- Cost data, import jobs, anomalies, incident cost impacts and the security cost link.

-- One row per day and slice. `grouping` says which Cost Explorer view a row belongs to:
-- 'detail' rows partition spend by service, account and region (each source has exactly one
-- such partition per day, so sums never double count); 'tag:<key>' rows are Cost Explorer's
-- breakdown by one cost-allocation tag, used for tag coverage only.
CREATE TABLE IF NOT EXISTS cost_records (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL CHECK (source IN ('ce', 'focus', 'cur')),
    grouping        text NOT NULL DEFAULT 'detail',
    usage_date      date NOT NULL,
    service         text NOT NULL,
    account         text NOT NULL,
    region          text NOT NULL,
    usage_type      text NOT NULL,
    resource_key    text NOT NULL DEFAULT '',
    charge_category text NOT NULL,
    currency        text NOT NULL,
    tags            jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags_key        text NOT NULL DEFAULT '',
    amount          double precision NOT NULL,
    estimated       boolean NOT NULL DEFAULT false,
    fetched_at      timestamptz,
    imported_at     timestamptz,
    import_id       uuid,
    CHECK ((source = 'ce') = (fetched_at IS NOT NULL)),
    CHECK ((source = 'ce') = (imported_at IS NULL))
);

-- The natural key: re-fetching or re-importing the same bill replaces rows instead of adding them.
CREATE UNIQUE INDEX IF NOT EXISTS cost_records_natural_key ON cost_records
    (source, grouping, usage_date, service, account, region, usage_type, resource_key, charge_category, currency,
     tags_key);
CREATE INDEX IF NOT EXISTS cost_records_by_day ON cost_records (usage_date, source, grouping);
CREATE INDEX IF NOT EXISTS cost_records_by_resource ON cost_records (resource_key, usage_date)
    WHERE resource_key <> '';

CREATE TABLE IF NOT EXISTS cost_imports (
    id            uuid PRIMARY KEY,
    status        text NOT NULL CHECK (status IN ('receiving', 'queued', 'running', 'succeeded', 'failed')),
    format        text,
    media_type    text NOT NULL,
    requested_by  text NOT NULL,
    bytes_received bigint NOT NULL DEFAULT 0,
    total_bytes   bigint,
    bytes_read    bigint NOT NULL DEFAULT 0,
    rows_read     bigint NOT NULL DEFAULT 0,
    records_stored bigint NOT NULL DEFAULT 0,
    first_day     date,
    last_day      date,
    error         jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);

CREATE TABLE IF NOT EXISTS cost_anomalies (
    id          text PRIMARY KEY,
    dimension   text NOT NULL,
    key         text NOT NULL,
    start_date  date NOT NULL,
    end_date    date NOT NULL,
    severity    text NOT NULL,
    impact_abs  double precision NOT NULL,
    body        jsonb NOT NULL,
    detected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cost_anomalies_by_end ON cost_anomalies (end_date);

CREATE TABLE IF NOT EXISTS cost_incident_impacts (
    incident_id text PRIMARY KEY,
    body        jsonb NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);

-- Security findings the supervisor forwards (task `cost.findings`), kept to link cost anomalies to them.
CREATE TABLE IF NOT EXISTS cost_security_findings (
    id          text PRIMARY KEY,
    region      text NOT NULL,
    account     text,
    observed_at timestamptz NOT NULL,
    body        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cost_security_findings_by_time ON cost_security_findings (observed_at);

-- Alerts raised into the main flow: written before sending, marked sent after, so a crash in
-- between resends (the supervisor dedupes on the envelope's idempotency key) instead of losing one.
CREATE TABLE IF NOT EXISTS cost_alerts (
    id          text PRIMARY KEY,
    anomaly_id  text NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);

CREATE TABLE IF NOT EXISTS cost_forecasts (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL CHECK (source IN ('cost_explorer', 'local')),
    fallback_reason text,
    body            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
