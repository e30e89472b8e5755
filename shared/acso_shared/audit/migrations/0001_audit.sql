-- ACSO audit log: append-only and hash-chained (see acso_shared/audit/chain.py).
-- PostgreSQL 18. Needs no extension: hashes are computed by the application, which owns the
-- canonical JSON form; the database enforces order, linkage and immutability.
--
-- Appending, in one transaction:
--   SELECT pg_advisory_xact_lock(hashtext('acso.audit_log'));
--   SELECT nextval('audit_log_seq');                                 -- seq
--   SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1;            -- prev_hash, or 64 zeros
--   record = chain.seal(entry, seq=seq, prev_hash=prev_hash)
--   INSERT INTO audit_log (...) VALUES (...);                        -- details as canonical JSON text
-- The insert trigger takes the same lock and refuses a row that does not extend the chain, so a
-- writer that skips the protocol fails instead of forking the chain.

CREATE SEQUENCE IF NOT EXISTS audit_log_seq AS bigint START WITH 1 NO CYCLE;

CREATE TABLE IF NOT EXISTS audit_log (
    seq         bigint      PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor       text        NOT NULL CHECK (actor <> ''),
    actor_kind  text        NOT NULL CHECK (actor_kind IN ('user', 'machine', 'system')),
    action      text        NOT NULL CHECK (action <> ''),
    target      text,
    -- text, not inet: inet rewrites addresses (e.g. adds /32 on output), which would change the hash input.
    source_ip   text,
    request_id  text,
    result      text        NOT NULL CHECK (result IN ('success', 'failure', 'denied')),
    -- json, not jsonb: json keeps the stored text exactly, so numbers read back as written.
    details     json        NOT NULL DEFAULT '{}'::json,
    prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash        text        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

ALTER SEQUENCE audit_log_seq OWNED BY audit_log.seq;

CREATE INDEX IF NOT EXISTS audit_log_occurred_at_idx ON audit_log (occurred_at);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor, occurred_at);

CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE OR REPLACE FUNCTION audit_log_check_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq  bigint;
    last_hash text;
BEGIN
    -- Serialise appends; under READ COMMITTED the query below then sees every committed row.
    PERFORM pg_advisory_xact_lock(hashtext('acso.audit_log'));
    SELECT seq, hash INTO last_seq, last_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        IF NEW.prev_hash <> repeat('0', 64) THEN
            RAISE EXCEPTION 'audit_log: the first row must chain to the genesis hash'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    ELSIF NEW.seq <= last_seq OR NEW.prev_hash <> last_hash THEN
        RAISE EXCEPTION 'audit_log: row % does not extend the chain after row %', NEW.seq, last_seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    NEW.recorded_at := clock_timestamp();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER audit_log_append
    BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_check_append();

CREATE OR REPLACE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE OR REPLACE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- Triggers stop mistakes and application bugs; privileges stop the application role. The
-- deployment grants the service role INSERT and SELECT only (the table owner stays separate).
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
