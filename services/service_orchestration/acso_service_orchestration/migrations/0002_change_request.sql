-- The change-request write-up of an operation (reasoning layer): the text ITSM reviewers read, who
-- wrote it (model or the deterministic core), why not the model, and its usage.
ALTER TABLE so_operations ADD COLUMN IF NOT EXISTS change_request jsonb;
