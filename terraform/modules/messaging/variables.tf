variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "agents" {
  description = "The agent services, keyed by snake_case name; each gets a task queue and DLQ."
  type = map(object({
    port     = number
    critical = bool
  }))
}

variable "kms_key_arn" {
  description = "KMS key that encrypts queues and the topic."
  type        = string
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the work queues (consumers extend it while working)."
  type        = number
  default     = 60

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "SQS allows 0 to 43200 seconds."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the work queues (SQS's default, 4 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "SQS allows 60 to 1209600 seconds."
  }
}

variable "dlq_retention_seconds" {
  description = "Retention of the dead-letter queues (the maximum, so nothing expires unseen)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "SQS allows 60 to 1209600 seconds."
  }
}

variable "max_receive_count" {
  description = "Receives before a message moves to its DLQ."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be 1-1000."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}

variable "scheduled_hunt_rate" {
  description = "EventBridge schedule of the threat hunter's recurring hunt."
  type        = string
  default     = "rate(1 hour)"

  validation {
    condition     = can(regex("^(rate\\(\\d+ (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.scheduled_hunt_rate))
    error_message = "scheduled_hunt_rate must be an EventBridge rate(...) or cron(...) expression."
  }
}

variable "publishing_services" {
  description = "AWS service principals the notifications topic policy lets publish (alarms, rules, budgets)."
  type        = list(string)
  default     = ["cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com"]

  validation {
    condition     = alltrue([for s in ["cloudwatch.amazonaws.com", "events.amazonaws.com"] : contains(var.publishing_services, s)])
    error_message = "CloudWatch alarms and EventBridge rules notify through the topic: keep cloudwatch.amazonaws.com and events.amazonaws.com."
  }
}
