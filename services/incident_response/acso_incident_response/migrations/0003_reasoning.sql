-- The reasoning layer on incidents: the response plan and the latest summary with how each was
-- written (model or deterministic core), the model usage of the incident (triage + plan +
-- summaries), and when a status change last asked for a new summary. `summary_due_at` is cleared
-- once a summary covers it; the sweeper waits until it is a debounce interval old, so a burst of
-- changes is summarised once, after the transactions that made them have committed.
ALTER TABLE ir_incidents ADD COLUMN IF NOT EXISTS reasoning jsonb;
ALTER TABLE ir_incidents ADD COLUMN IF NOT EXISTS llm_usage jsonb;
ALTER TABLE ir_incidents ADD COLUMN IF NOT EXISTS summary_due_at timestamptz;
CREATE INDEX IF NOT EXISTS ir_incidents_summary_due_idx ON ir_incidents (summary_due_at)
    WHERE summary_due_at IS NOT NULL;
