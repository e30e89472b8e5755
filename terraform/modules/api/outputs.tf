output "target_group_arns" {
  description = "ALB target group ARN of each agent (attached to its listener)."
  value       = { for k, tg in aws_lb_target_group.agent : k => tg.arn }
  # ECS can register a service with a target group only once the group has a listener.
  depends_on = [aws_lb_listener.agent]
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (CloudWatch dimension)."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the internal ALB."
  value       = aws_lb.this.dns_name
}

output "target_group_arn_suffixes" {
  description = "ARN suffix of each agent's target group (CloudWatch dimension)."
  value       = { for k, tg in aws_lb_target_group.agent : k => tg.arn_suffix }
}

output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "rest_api_name" {
  description = "Name of the REST API (CloudWatch dimension)."
  value       = aws_api_gateway_rest_api.this.name
}

output "rest_api_url" {
  description = "Invoke URL of the REST API stage."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "stage_name" {
  description = "Stage name of both APIs."
  value       = var.stage_name
}

output "websocket_api_id" {
  description = "ID of the WebSocket API."
  value       = aws_apigatewayv2_api.ws.id
}

output "websocket_url" {
  description = "wss:// URL of the WebSocket API stage."
  value       = aws_apigatewayv2_stage.ws.invoke_url
}

output "websocket_execution_arn" {
  description = "Execution ARN of the WebSocket API (to allow execute-api:ManageConnections)."
  value       = aws_apigatewayv2_api.ws.execution_arn
}

output "websocket_management_endpoint" {
  description = "https:// endpoint of the WebSocket stage's @connections API (the supervisor's ACSO_WS_MANAGEMENT_ENDPOINT)."
  value       = replace(aws_apigatewayv2_stage.ws.invoke_url, "wss://", "https://")
}

output "websocket_manage_connections_arn" {
  description = "Resource of execute-api:ManageConnections for the stage's connections (grant it to the supervisor's task role)."
  value       = "${aws_apigatewayv2_api.ws.execution_arn}/${var.stage_name}/POST/@connections/*"
}

output "ws_gateway_secret_arn" {
  description = "Secret holding the X-ACSO-Gateway-Secret value (inject it into the supervisor as ACSO_WS_GATEWAY_SECRET)."
  value       = aws_secretsmanager_secret.ws_gateway.arn
}

output "console_url" {
  description = "URL of the web console: the REST API stage's root, with its trailing slash (also the Hosted UI callback URL)."
  value       = local.console_url
}

output "alb_scheme" {
  description = "Scheme of the internal ALB's listeners (https when certificate_arn is set)."
  value       = local.https ? "https" : "http"
}
