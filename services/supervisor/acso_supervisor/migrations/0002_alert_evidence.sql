-- Evidence that came with an alert from another agent (e.g. the CloudTrail events a hunt matched).
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS evidence jsonb NOT NULL DEFAULT '[]'::jsonb;
