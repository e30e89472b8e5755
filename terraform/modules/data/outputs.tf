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
  description = "Name of the S3 server access log bucket, known once its policy lets ELB and S3 deliver (the ALB checks that on creation)."
  value       = aws_s3_bucket_policy.access_logs.bucket
}

output "database_address" {
  description = "Host name of the PostgreSQL instance."
  value       = aws_db_instance.this.address
}

output "database_identifier" {
  description = "Identifier of the PostgreSQL instance (CloudWatch dimension)."
  value       = aws_db_instance.this.identifier
}

output "database_replica_identifiers" {
  description = "Identifiers of the read replicas."
  value       = aws_db_instance.replica[*].identifier
}

output "database_url" {
  description = "ACSO_DATABASE_URL without a password (asyncpg takes it from PGPASSWORD)."
  value       = "postgresql://${local.database_user}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${local.database_name}?sslmode=require"
}

output "database_secret_arn" {
  description = "ARN of the RDS-managed secret of the master credentials (JSON: username, password), rotated by RDS."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}
