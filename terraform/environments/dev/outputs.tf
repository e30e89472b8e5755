output "ecr_repository_names" {
  description = "ECR repository of each agent; `make deploy` pushes `<repository_url>:<image_tag>` to these."
  value       = module.compute.ecr_repository_names
}

output "ecr_repository_urls" {
  description = "ECR repository URL of each agent."
  value       = module.compute.ecr_repository_urls
}

output "rest_api_url" {
  description = "Invoke URL of the public REST API."
  value       = module.api.rest_api_url
}

output "console_url" {
  description = "The web console (the REST API stage root; log in through the Cognito Hosted UI)."
  value       = module.api.console_url
}

output "websocket_url" {
  description = "URL of the WebSocket API."
  value       = module.api.websocket_url
}

output "websocket_management_endpoint" {
  description = "The supervisor's ACSO_WS_MANAGEMENT_ENDPOINT (the WebSocket stage's @connections API)."
  value       = module.api.websocket_management_endpoint
}

output "ws_gateway_secret_arn" {
  description = "Secret with the header value API Gateway sends to the supervisor's /v1/ws/* routes (ACSO_WS_GATEWAY_SECRET)."
  value       = module.api.ws_gateway_secret_arn
}

output "user_pool_id" {
  description = "Cognito user pool ID."
  value       = module.security.user_pool_id
}

output "app_client_id" {
  description = "Cognito web app client ID."
  value       = module.security.app_client_id
}

output "machine_client_id" {
  description = "Cognito client-credentials client ID for SIEM/ITSM integrations."
  value       = module.security.machine_client_id
}

output "cognito_domain" {
  description = "Cognito hosted domain prefix (token endpoint https://<domain>.auth.<region>.amazoncognito.com/oauth2/token)."
  value       = module.security.user_pool_domain
}

output "knowledge_base_id" {
  description = "Bedrock knowledge base ID."
  value       = module.ai.knowledge_base_id
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}

output "container_environment_names" {
  description = "Environment variables set on every agent task."
  value       = module.compute.container_environment_names
}
