-- Threat intelligence: feed imports, indicators, the threats they point to.
-- Idempotent (IF NOT EXISTS everywhere) so a re-run after a partial apply is harmless.

CREATE TABLE IF NOT EXISTS intel_imports (
    id              uuid PRIMARY KEY,
    source          text        NOT NULL,
    format          text        NOT NULL CHECK (format IN ('stix', 'misp', 'plain', 'csv', 'taxii')),
    status          text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    submitted_at    timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz,
    raw_object_key  text,
    total           integer,
    processed       integer     NOT NULL DEFAULT 0,
    counts          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    warnings        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    error           jsonb
);
CREATE INDEX IF NOT EXISTS intel_imports_source_submitted ON intel_imports (source, submitted_at DESC);

CREATE TABLE IF NOT EXISTS intel_indicators (
    id              bigserial   PRIMARY KEY,
    source          text        NOT NULL,
    external_id     text        NOT NULL,
    type            text        NOT NULL
                    CHECK (type IN ('ipv4', 'ipv6', 'domain', 'url', 'md5', 'sha1', 'sha256', 'sha512')),
    value           text        NOT NULL,
    -- Set for ipv4/ipv6 (a single address is a /32 or /128) so ranges are searched with a GiST index.
    network         cidr,
    confidence      smallint    NOT NULL CHECK (confidence BETWEEN 0 AND 100),
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    valid_from      timestamptz,
    valid_until     timestamptz,
    revoked         boolean     NOT NULL DEFAULT false,
    labels          text[]      NOT NULL DEFAULT '{}',
    description     text,
    pattern         text,
    last_import_id  uuid        REFERENCES intel_imports (id) ON DELETE SET NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- One row per value per source: a re-import updates it instead of adding a duplicate.
    CONSTRAINT intel_indicators_identity UNIQUE (source, type, value),
    CONSTRAINT intel_indicators_network_for_ips CHECK ((type IN ('ipv4', 'ipv6')) = (network IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS intel_indicators_value ON intel_indicators (value);
CREATE INDEX IF NOT EXISTS intel_indicators_network ON intel_indicators USING gist (network inet_ops)
    WHERE network IS NOT NULL;
CREATE INDEX IF NOT EXISTS intel_indicators_updated ON intel_indicators (updated_at, id);
-- `*.example.com` rows, looked up by their parent domain.
CREATE INDEX IF NOT EXISTS intel_indicators_wildcard ON intel_indicators ((substr(value, 3)))
    WHERE type = 'domain' AND value LIKE '*.%';

CREATE TABLE IF NOT EXISTS intel_objects (
    id              text        PRIMARY KEY,
    kind            text        NOT NULL
                    CHECK (kind IN ('threat-actor', 'intrusion-set', 'campaign', 'malware', 'tool', 'attack-pattern')),
    name            text        NOT NULL,
    external_id     text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS intel_indicator_relations (
    indicator_id    bigint      NOT NULL REFERENCES intel_indicators (id) ON DELETE CASCADE,
    object_id       text        NOT NULL REFERENCES intel_objects (id) ON DELETE CASCADE,
    relationship    text        NOT NULL,
    PRIMARY KEY (indicator_id, object_id)
);
CREATE INDEX IF NOT EXISTS intel_indicator_relations_object ON intel_indicator_relations (object_id);
