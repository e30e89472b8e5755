-- Community rule packs, lint findings, exactly-once scheduled hunting and new-behaviour state.
-- Idempotent, like the others.

-- Imported rules (a SigmaHQ release, or any folder/zip of Sigma rules) sit beside built-in and
-- user rules; each remembers its pack, the pack's version and the file it came from.
ALTER TABLE hunt_rules DROP CONSTRAINT IF EXISTS hunt_rules_source_check;
ALTER TABLE hunt_rules ADD CONSTRAINT hunt_rules_source_check CHECK (source IN ('builtin', 'user', 'imported'));
ALTER TABLE hunt_rules ADD COLUMN IF NOT EXISTS pack text;
ALTER TABLE hunt_rules ADD COLUMN IF NOT EXISTS pack_version text;
ALTER TABLE hunt_rules ADD COLUMN IF NOT EXISTS file text;
ALTER TABLE hunt_rules ADD COLUMN IF NOT EXISTS lint jsonb NOT NULL DEFAULT '[]'::jsonb;
CREATE INDEX IF NOT EXISTS hunt_rules_pack ON hunt_rules (pack, pack_version);

-- One row per pack import, with its per-rule report.
CREATE TABLE IF NOT EXISTS rule_imports (
    id              uuid        PRIMARY KEY,
    pack            text        NOT NULL,
    version         text        NOT NULL,
    requested_by    text,
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    counts          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    results         jsonb       NOT NULL DEFAULT '[]'::jsonb
);

-- Scheduled hunts claim stored events by delivery: an event is hunted once, when the first
-- scheduled hunt after its arrival runs, however late CloudTrail delivered it.
ALTER TABLE cloudtrail_events ADD COLUMN IF NOT EXISTS hunted_at timestamptz;
UPDATE cloudtrail_events SET hunted_at = ingested_at WHERE hunted_at IS NULL;  -- hunted by the earlier window scheme
CREATE INDEX IF NOT EXISTS cloudtrail_events_unhunted ON cloudtrail_events (ingested_at) WHERE hunted_at IS NULL;

-- New-behaviour rules: when each (rule, key) was first and last seen.
CREATE TABLE IF NOT EXISTS behaviour_baseline (
    rule_id         text        NOT NULL,
    key             text        NOT NULL,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    PRIMARY KEY (rule_id, key)
);
