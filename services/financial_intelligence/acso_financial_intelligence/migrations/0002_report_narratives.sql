-- Executive-report narratives written by the model (reasoning layer), one per set of report
-- figures: serving the same report again reuses the narrative instead of paying for the model.
-- Deterministic narratives are not kept (they cost nothing and a degraded run should be retried).
CREATE TABLE IF NOT EXISTS cost_report_narratives (
    figures_key text PRIMARY KEY,
    record      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
