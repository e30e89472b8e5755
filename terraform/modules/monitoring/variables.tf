variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "agents" {
  description = "The agent services, keyed by snake_case name; each gets a log group."
  type = map(object({
    port     = number
    critical = bool
  }))
}

variable "lambda_names" {
  description = "Logical names of the Lambda functions; each gets `/aws/lambda/<prefix>-<name>`."
  type        = list(string)
  default     = ["auth", "notification", "data_processing"]
}

variable "kms_key_arn" {
  description = "KMS key for log groups and the CloudTrail bucket."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the service and function log groups, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic alarms notify."
  type        = string
}

variable "dlq_names" {
  description = "Dead-letter queues to alarm on (any visible message is an alarm)."
  type        = list(string)
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB."
  type        = string
}

variable "rest_api_name" {
  description = "Name of the REST API."
  type        = string
}

variable "rest_api_stage" {
  description = "Stage of the REST API."
  type        = string
}

variable "ecs_cluster_name" {
  description = "ECS cluster (dashboard)."
  type        = string
}

variable "ecs_service_names" {
  description = "ECS service of each agent (dashboard)."
  type        = map(string)
}

variable "task_queue_names" {
  description = "Work queue names (dashboard)."
  type        = map(string)
}

variable "latency_p95_threshold_ms" {
  description = "API p95 latency above which the latency alarm fires, ms."
  type        = number
  default     = 2000
}

variable "error_5xx_threshold" {
  description = "5xx responses per 5 minutes above which the 5xx alarms fire."
  type        = number
  default     = 5
}

variable "xray_sampling_rate" {
  description = "Fraction of requests X-Ray samples beyond the reservoir."
  type        = number
  default     = 0.05

  validation {
    condition     = var.xray_sampling_rate >= 0 && var.xray_sampling_rate <= 1
    error_message = "xray_sampling_rate must be between 0 and 1."
  }
}

variable "create_guardduty_detector" {
  description = "Create the GuardDuty detector (false when the account already has one: a region allows only one)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "Bucket receiving the CloudTrail bucket's server access logs."
  type        = string
}

variable "deletion_protection" {
  description = "Keep the trail bucket when the stack is destroyed (prod)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
