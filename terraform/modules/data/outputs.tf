output "table_names" {
  description = "DynamoDB table names, by logical name."
  value       = { for k, t in aws_dynamodb_table.this : k => t.name }
}

output "table_arns" {
  description = "DynamoDB table ARNs, by logical name."
  value       = { for k, t in aws_dynamodb_table.this : k => t.arn }
}

output "artifacts_bucket_name" {
  description = "Name of the artifacts bucket."
  value       = aws_s3_bucket.this["artifacts"].id
}

output "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  value       = aws_s3_bucket.this["artifacts"].arn
}

output "threat_intel_bucket_name" {
  description = "Name of the threat-intel bucket."
  value       = aws_s3_bucket.this["threat_intel"].id
}

output "threat_intel_bucket_arn" {
  description = "ARN of the threat-intel bucket."
  value       = aws_s3_bucket.this["threat_intel"].arn
}

output "access_logs_bucket_name" {
  description = "Name of the S3 server access log bucket."
  value       = aws_s3_bucket.access_logs.id
}

output "database_address" {
  description = "Host name of the PostgreSQL instance."
  value       = aws_db_instance.this.address
}

output "database_identifier" {
  description = "Identifier of the PostgreSQL instance (CloudWatch dimension)."
  value       = aws_db_instance.this.identifier
}

output "database_secret_arn" {
  description = "ARN of the `acso-<env>/database` secret holding ACSO_DATABASE_URL (available once its value is set)."
  # Taken from the version so that whatever reads the secret waits for the value to exist.
  value = aws_secretsmanager_secret_version.database.arn
}

output "database_secret_name" {
  description = "Name of the database secret."
  value       = aws_secretsmanager_secret.database.name
}
