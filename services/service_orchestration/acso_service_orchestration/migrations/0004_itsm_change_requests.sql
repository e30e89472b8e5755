-- The ITSM change request of each operation (ServiceNow change_request) and how pushing it goes.
-- The wanted state follows from so_operations.status; `synced_status` is the operation status the
-- ITSM record was last brought in step with, so a row is due while the two differ.
CREATE TABLE IF NOT EXISTS so_change_requests (
    operation_id      uuid        NOT NULL REFERENCES so_operations (id) ON DELETE CASCADE,
    system            text        NOT NULL CHECK (system IN ('servicenow')),
    external_id       text,
    number            text,
    url               text,
    state             text,
    synced_status     text,
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'synced', 'failing')),
    attempts          integer     NOT NULL DEFAULT 0,
    last_error        text,
    last_attempt_at   timestamptz,
    next_attempt_at   timestamptz,
    lease_owner       text,
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, system)
);
CREATE INDEX IF NOT EXISTS so_change_requests_due ON so_change_requests (next_attempt_at) WHERE status <> 'synced';
