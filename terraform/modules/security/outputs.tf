output "kms_key_arn" {
  description = "ARN of the ACSO KMS key."
  value       = aws_kms_key.this.arn
}

output "kms_key_id" {
  description = "ID of the ACSO KMS key."
  value       = aws_kms_key.this.key_id
}

output "kms_alias" {
  description = "Alias of the ACSO KMS key (`alias/acso-<env>`)."
  value       = aws_kms_alias.this.name
}

output "integration_secret_arns" {
  description = "ARNs of the integration secrets, by logical name."
  value       = { for k, s in aws_secretsmanager_secret.integration : k => s.arn }
}

output "integration_secret_names" {
  description = "Names of the integration secrets, by logical name."
  value       = { for k, s in aws_secretsmanager_secret.integration : k => s.name }
}

output "user_pool_id" {
  description = "ID of the Cognito user pool."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "ARN of the Cognito user pool."
  value       = aws_cognito_user_pool.this.arn
}

output "user_pool_name" {
  description = "Name of the Cognito user pool."
  value       = aws_cognito_user_pool.this.name
}

output "user_pool_endpoint" {
  description = "Issuer host of the pool's tokens (cognito-idp.<region>.amazonaws.com/<pool-id>)."
  value       = aws_cognito_user_pool.this.endpoint
}

output "user_pool_domain" {
  description = "Hosted domain prefix (token endpoint for client credentials)."
  value       = aws_cognito_user_pool_domain.this.domain
}

output "hosted_ui_url" {
  description = "Origin of the Cognito Hosted UI (the console's ACSO_CONSOLE_HOSTED_UI_DOMAIN: /oauth2/authorize and /oauth2/token)."
  value       = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.region}.amazoncognito.com"
}

output "app_client_id" {
  description = "ID of the `acso-<env>-api` app client."
  value       = aws_cognito_user_pool_client.api.id
}

output "app_client_name" {
  description = "Name of the web app client."
  value       = aws_cognito_user_pool_client.api.name
}

output "machine_client_id" {
  description = "ID of the `acso-<env>-integrations` client-credentials client."
  value       = aws_cognito_user_pool_client.integrations.id
}

output "machine_client_name" {
  description = "Name of the machine client."
  value       = aws_cognito_user_pool_client.integrations.name
}

output "web_acl_arn" {
  description = "ARN of the regional WAF web ACL."
  value       = aws_wafv2_web_acl.this.arn
}

output "task_role_arns" {
  description = "Task role ARN of each agent."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "execution_role_arns" {
  description = "Execution role ARN of each agent."
  value       = { for k, r in aws_iam_role.execution : k => r.arn }
}
