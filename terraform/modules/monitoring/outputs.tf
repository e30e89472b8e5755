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
  description = "ID of the GuardDuty detector created here (null when an existing one is used)."
  value       = var.create_guardduty_detector ? aws_guardduty_detector.this[0].id : null
}
