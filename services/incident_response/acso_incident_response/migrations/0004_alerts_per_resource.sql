-- Every alert of an incident is listed with what it names and gets the response its own finding
-- calls for: actions remember the alert that planned them, and each alert its containment outcome.
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS severity text;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS account_id text;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'active';
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS status_reason text;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS resolved_at timestamptz;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS resources jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS observables jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS workflow_id text;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS verdict text;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS playbook text;
-- The action targets this alert names (`ec2_instance:i-...`): its containment is theirs.
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS targets jsonb NOT NULL DEFAULT '[]'::jsonb;
-- NULL while its actions run; then contained, failed or no_action.
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS containment text;
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS joined_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE ir_incident_alerts DROP CONSTRAINT IF EXISTS ir_incident_alerts_status_check;
ALTER TABLE ir_incident_alerts ADD CONSTRAINT ir_incident_alerts_status_check CHECK (status IN ('active', 'resolved'));

ALTER TABLE ir_actions ADD COLUMN IF NOT EXISTS alert_id text;
CREATE INDEX IF NOT EXISTS ir_actions_incident_alert_idx ON ir_actions (incident_id, alert_id);
ALTER TABLE ir_incident_alerts ADD COLUMN IF NOT EXISTS action_ids jsonb NOT NULL DEFAULT '[]'::jsonb;

-- Every alert was resolved at its source while actions still ran: close once they finish.
ALTER TABLE ir_incidents ADD COLUMN IF NOT EXISTS resolve_when_done boolean NOT NULL DEFAULT false;
