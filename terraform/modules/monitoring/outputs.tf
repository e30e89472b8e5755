output "agent_log_group_names" {
  description = "Log group name of each agent."
  value       = { for k, g in aws_cloudwatch_log_group.agent : k => g.name }
}

output "agent_log_group_arns" {
  description = "Log group ARN of each agent."
  value       = { for k, g in aws_cloudwatch_log_group.agent : k => g.arn }
}

output "lambda_log_group_names" {
  description = "Log group name of each Lambda function."
  value       = { for k, g in aws_cloudwatch_log_group.lambda : k => g.name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "trail_arn" {
  description = "ARN of the CloudTrail trail."
  value       = aws_cloudtrail.this.arn
}

output "trail_bucket_name" {
  description = "Bucket of the CloudTrail log files (ACSO ingests them for CloudTrail context)."
  value       = aws_s3_bucket.trail.id
}

output "guardduty_detector_id" {
  description = "ID of the region's GuardDuty detector: the one created here, or the account's existing one."
  value       = var.create_guardduty_detector ? aws_guardduty_detector.this[0].id : data.aws_guardduty_detector.existing[0].id
}

output "config_recorder_name" {
  description = "Name of the AWS Config recorder created here (null when the account's own is used)."
  value       = var.create_config_recorder ? aws_config_configuration_recorder.this[0].name : null
}

output "config_rule_names" {
  description = "Names of ACSO's AWS Config rules."
  value       = [for r in aws_config_config_rule.this : r.name]
}

output "budget_name" {
  description = "Name of the monthly budget (null when monthly_budget_usd is 0)."
  value       = var.monthly_budget_usd > 0 ? aws_budgets_budget.monthly[0].name : null
}
