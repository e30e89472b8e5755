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
  description = "Create the GuardDuty detector. False (default): use the account's existing detector (a region allows only one; Organizations and Control Tower enable it); the plan fails if there is none."
  type        = bool
  default     = false
}

variable "create_config_recorder" {
  description = "Create an AWS Config recorder and delivery channel. False (default): use the account's existing recorder (a region allows only one)."
  type        = bool
  default     = false
}

variable "config_include_global_resources" {
  description = "The recorder created here also records global resources such as IAM users (record them in one region only)."
  type        = bool
  default     = true
}

variable "create_config_rules" {
  description = "Create ACSO's AWS Config managed rules (needs a recorder in the region: the account's or create_config_recorder)."
  type        = bool
  default     = true
}

variable "config_rules" {
  description = "AWS managed Config rules by source identifier, with their input parameters."
  type = map(object({
    description = string
    parameters  = optional(map(string), {})
  }))
  default = {
    EC2_INSTANCE_NO_PUBLIC_IP                = { description = "Instances have no public IPv4 address" }
    EC2_IMDSV2_CHECK                         = { description = "Instances require IMDSv2" }
    INCOMING_SSH_DISABLED                    = { description = "Security groups do not open SSH to the internet" }
    ENCRYPTED_VOLUMES                        = { description = "Attached EBS volumes are encrypted" }
    S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED = { description = "Buckets block public access" }
    S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED = { description = "Buckets encrypt objects by default" }
    ACCESS_KEYS_ROTATED                      = { description = "Access keys are rotated within 90 days", parameters = { maxAccessKeyAge = "90" } }
    IAM_USER_UNUSED_CREDENTIALS_CHECK        = { description = "IAM users have no credentials unused for 90 days", parameters = { maxCredentialUsageAge = "90" } }
  }
}

variable "lambda_function_names" {
  description = "Lambda functions to alarm on (errors, throttles), by logical name."
  type        = map(string)
  default     = {}
}

variable "database_identifier" {
  description = "RDS instance identifier of the PostgreSQL database (alarms)."
  type        = string
}

variable "database_replica_identifier" {
  description = "RDS identifier of the read replica (replica-lag alarm); null when there is none."
  type        = string
  default     = null
}

variable "rds_cpu_threshold_percent" {
  description = "Database CPU above which the alarm fires, percent."
  type        = number
  default     = 80
}

variable "rds_free_storage_threshold_gib" {
  description = "Free database storage below which the alarm fires, GiB."
  type        = number
  default     = 5
}

variable "rds_replica_lag_threshold_s" {
  description = "Replica lag above which the alarm fires, seconds."
  type        = number
  default     = 300
}

variable "min_running_tasks" {
  description = "Running tasks per agent below which the ECS alarm fires."
  type        = number
  default     = 1
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of the environment in USD, with alerts to the notifications topic (0: no budget)."
  type        = number
  default     = 0

  validation {
    condition     = var.monthly_budget_usd >= 0
    error_message = "monthly_budget_usd must be zero or positive."
  }
}

variable "budget_actual_thresholds_percent" {
  description = "Percentages of the budget whose actual spend sends an alert."
  type        = list(number)
  default     = [80, 100]
}

variable "budget_cost_allocation_tag" {
  description = "Cost allocation tag that selects this environment's costs (null: the whole account)."
  type = object({
    key   = string
    value = string
  })
  default = null
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
