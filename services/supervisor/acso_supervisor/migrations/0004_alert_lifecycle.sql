-- Alerts follow their source's lifecycle (a finding archived, resolved or passed at the source is
-- `resolved` here), and an alert's workflow waits for the containment of its own resources.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'active';
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS status_reason text;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS resolved_at timestamptz;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS account_id text;
ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_status_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_status_check CHECK (status IN ('active', 'resolved'));

ALTER TABLE workflow_steps DROP CONSTRAINT IF EXISTS workflow_steps_status_check;
ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_status_check
    CHECK (status IN ('pending', 'sent', 'waiting', 'completed', 'failed'));
