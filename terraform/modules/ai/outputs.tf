output "bedrock_model_id" {
  description = "Model id (or inference profile id) the agents converse with (ACSO_BEDROCK_MODEL_ID)."
  value       = var.bedrock_model_id
}

output "model_arns" {
  description = "ARNs the agents' task roles may invoke: the foundation model and, for a profile id, the inference profile."
  value       = local.model_arns
}

output "guardrail_id" {
  description = "ID of the Bedrock guardrail (ACSO_BEDROCK_GUARDRAIL_ID)."
  value       = aws_bedrock_guardrail.this.guardrail_id
}

output "guardrail_arn" {
  description = "ARN of the Bedrock guardrail."
  value       = aws_bedrock_guardrail.this.guardrail_arn
}

output "guardrail_version" {
  description = "Published guardrail version (ACSO_BEDROCK_GUARDRAIL_VERSION)."
  value       = aws_bedrock_guardrail_version.this.version
}

output "knowledge_base_id" {
  description = "ID of the threat-intel knowledge base (ACSO_KNOWLEDGE_BASE_ID)."
  value       = aws_bedrockagent_knowledge_base.this.id
}

output "knowledge_base_arn" {
  description = "ARN of the threat-intel knowledge base."
  value       = aws_bedrockagent_knowledge_base.this.arn
}

output "data_source_id" {
  description = "ID of the S3 data source (start ingestion jobs with it)."
  value       = aws_bedrockagent_data_source.threat_intel.data_source_id
}

output "vector_store_cluster_arn" {
  description = "ARN of the Aurora vector store cluster."
  value       = aws_rds_cluster.vectors.arn
}

output "ingestion_state_machine_arn" {
  description = "State machine that starts a knowledge-base ingestion job (run it by hand for a full resync)."
  value       = aws_sfn_state_machine.ingestion.arn
}
