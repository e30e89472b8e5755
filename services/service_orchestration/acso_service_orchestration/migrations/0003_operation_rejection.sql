-- Operations: a pending operation can be rejected by an it_operator or admin; it then never runs.
ALTER TABLE so_operations DROP CONSTRAINT IF EXISTS so_operations_status_check;
ALTER TABLE so_operations ADD CONSTRAINT so_operations_status_check CHECK (status IN
    ('pending_approval', 'approved', 'rejected', 'running', 'succeeded', 'failed', 'partially_failed'));
ALTER TABLE so_operations ADD COLUMN IF NOT EXISTS rejected_by text;
ALTER TABLE so_operations ADD COLUMN IF NOT EXISTS rejected_at timestamptz;
ALTER TABLE so_operations ADD COLUMN IF NOT EXISTS rejection_comment text;
