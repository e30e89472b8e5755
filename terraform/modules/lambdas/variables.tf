variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "env" {
  description = "Environment name, passed to the functions as ACSO_ENV."
  type        = string
}

variable "dist_dir" {
  description = "Directory holding the packages `make lambdas` builds (`<name>.zip`)."
  type        = string
}

variable "handlers" {
  description = "Handler of each function inside its package."
  type        = map(string)
  default = {
    auth            = "handler.handler"
    notification    = "handler.handler"
    data_processing = "handler.handler"
  }

  validation {
    condition     = length(setsubtract(["auth", "notification", "data_processing"], keys(var.handlers))) == 0
    error_message = "handlers must name the auth, notification and data_processing handlers."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions by function (auth, notification, data_processing); unset functions use the unreserved pool. Opt-in: Lambda keeps 100 of the account's concurrency unreserved, so a reservation fails on accounts whose quota is low (new and sandbox accounts have 10)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.reserved_concurrency : contains(["auth", "notification", "data_processing"], k) && v >= 0])
    error_message = "reserved_concurrency keys must be auth, notification or data_processing, with values >= 0."
  }
}

variable "runtime" {
  description = "Python runtime of the functions."
  type        = string
  default     = "python3.11"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.11, python3.12 or python3.13."
  }
}

variable "kms_key_arn" {
  description = "KMS key for environment variables and the DLQ; the functions may also use it to read and write what it encrypts (the chat secret, the log buckets, the supervisor queue)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the functions."
  type        = list(string)
}

variable "lambda_security_group_id" {
  description = "Security group of the functions."
  type        = string
}

variable "log_group_names" {
  description = "CloudWatch log group of each function (created by the monitoring module with retention)."
  type        = map(string)
}

variable "user_pool_id" {
  description = "Cognito user pool whose tokens the authorizer verifies."
  type        = string
}

variable "app_client_ids" {
  description = "Cognito app client ids the authorizer accepts (web client and machine client)."
  type        = list(string)
}

variable "notifications_topic_arn" {
  description = "SNS topic the notification function subscribes to."
  type        = string
}

variable "chat_secret_arn" {
  description = "Secret with the notification channels (Slack webhooks, email senders and recipients, signed webhooks)."
  type        = string
}

variable "console_url" {
  description = "Base URL of the ACSO console; incident links in notifications start with it (empty: no links)."
  type        = string
  default     = ""
}

variable "ses_identity_arns" {
  description = "SES identities the notification function may send email from. Empty: every identity of this account and region."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.ses_identity_arns : can(regex("^arn:aws[a-z-]*:ses:[a-z0-9-]+:[0-9]{12}:identity/.+$", arn))])
    error_message = "ses_identity_arns must be SES identity ARNs (arn:aws:ses:<region>:<account>:identity/<domain or address>)."
  }
}

variable "idempotency_table_arn" {
  description = "ARN of the idempotency table, where the notification function records delivered (message, channel) pairs."
  type        = string
}

variable "supervisor_queue_arn" {
  description = "ARN of the supervisor's task queue (`acso-<env>-supervisor-tasks`); data_processing sends its hits there."
  type        = string
}

variable "log_bucket_arns" {
  description = "Buckets of CloudTrail and VPC flow log files the data-processing function reads (usually the CloudTrail trail bucket). Empty: no trigger."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.log_bucket_arns : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", arn))])
    error_message = "log_bucket_arns must be S3 bucket ARNs (arn:aws:s3:::<bucket>)."
  }
}

variable "log_key_patterns" {
  description = "EventBridge wildcard patterns of the object keys that are log files (CloudTrail digests and other objects are left alone)."
  type        = list(string)
  default     = ["AWSLogs/*/CloudTrail/*", "AWSLogs/*/vpcflowlogs/*"]

  validation {
    condition     = length(var.log_key_patterns) > 0
    error_message = "log_key_patterns must name at least one pattern."
  }
}

variable "manage_log_bucket_notifications" {
  description = "Turn on EventBridge notifications of the log buckets here. Set false when the bucket's notification configuration is managed elsewhere (a bucket has only one); it must then enable EventBridge itself."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
