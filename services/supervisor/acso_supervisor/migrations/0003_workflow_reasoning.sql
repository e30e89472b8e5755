-- The reasoning layer's summary of a completed workflow: the text, who wrote it (model or the
-- deterministic core), why not the model, injection findings and the summary's own usage.
ALTER TABLE workflows ADD COLUMN IF NOT EXISTS summary jsonb;
