#!/usr/bin/env bash
# Creates the pgvector table Bedrock Knowledge Bases expects in the Aurora vector store, through
# the RDS Data API (no network path to the cluster needed). Idempotent: every statement is
# IF NOT EXISTS. Retries while an auto-paused Serverless v2 cluster resumes.
# Env: CLUSTER_ARN, SECRET_ARN, DATABASE, DIMENSIONS, AWS_REGION.
set -euo pipefail

statements=(
  "CREATE EXTENSION IF NOT EXISTS vector"
  "CREATE SCHEMA IF NOT EXISTS bedrock_integration"
  "CREATE TABLE IF NOT EXISTS bedrock_integration.bedrock_kb (id uuid PRIMARY KEY, embedding vector(${DIMENSIONS}), chunks text, metadata json, custom_metadata jsonb)"
  "CREATE INDEX IF NOT EXISTS bedrock_kb_embedding_idx ON bedrock_integration.bedrock_kb USING hnsw (embedding vector_cosine_ops)"
  "CREATE INDEX IF NOT EXISTS bedrock_kb_chunks_idx ON bedrock_integration.bedrock_kb USING gin (to_tsvector('simple', chunks))"
  "CREATE INDEX IF NOT EXISTS bedrock_kb_custom_metadata_idx ON bedrock_integration.bedrock_kb USING gin (custom_metadata)"
)

for sql in "${statements[@]}"; do
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if aws rds-data execute-statement --region "${AWS_REGION}" --resource-arn "${CLUSTER_ARN}" \
      --secret-arn "${SECRET_ARN}" --database "${DATABASE}" --sql "${sql}" >/dev/null; then
      break
    fi
    if [ "${attempt}" -eq 10 ]; then
      echo "vector store bootstrap failed: ${sql}" >&2
      exit 1
    fi
    sleep 15 # the cluster is resuming from auto-pause or still starting
  done
done
