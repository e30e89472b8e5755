output "queue_names" {
  description = "Work queue names: one per agent (task queues) plus `results` and `findings`."
  value       = { for k, q in aws_sqs_queue.this : k => q.name }
}

output "dlq_names" {
  description = "Dead-letter queue names, keyed like queue_names."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.name }
}

output "task_queue_arns" {
  description = "Task queue ARN of each agent."
  value       = { for agent, _ in var.agents : agent => aws_sqs_queue.this[agent].arn }
}

output "task_dlq_arns" {
  description = "Task DLQ ARN of each agent."
  value       = { for agent, _ in var.agents : agent => aws_sqs_queue.dlq[agent].arn }
}

output "results_queue_arn" {
  description = "ARN of the supervisor's results queue."
  value       = aws_sqs_queue.this["results"].arn
}

output "findings_queue_arn" {
  description = "ARN of the supervisor's findings ingestion queue."
  value       = aws_sqs_queue.this["findings"].arn
}

output "supervisor_dlq_arns" {
  description = "ARNs of the results and findings DLQs."
  value       = [aws_sqs_queue.dlq["results"].arn, aws_sqs_queue.dlq["findings"].arn]
}

output "notifications_topic_arn" {
  description = "ARN of the notifications topic."
  value       = aws_sns_topic.notifications.arn
}

output "notifications_topic_name" {
  description = "Name of the notifications topic."
  value       = aws_sns_topic.notifications.name
}

output "event_bus_name" {
  description = "Name of the ACSO event bus."
  value       = aws_cloudwatch_event_bus.this.name
}

output "event_bus_arn" {
  description = "ARN of the ACSO event bus."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "event_rule_names" {
  description = "Names of the EventBridge rules."
  value = [
    aws_cloudwatch_event_rule.guardduty.name,
    aws_cloudwatch_event_rule.securityhub.name,
    aws_cloudwatch_event_rule.scheduled_hunt.name,
  ]
}
