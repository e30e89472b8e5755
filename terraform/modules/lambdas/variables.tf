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
  description = "KMS key for environment variables, the DLQ and decrypting sources."
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
  description = "Secret with the chat (Slack) webhook the notification function posts to."
  type        = string
}

variable "threat_intel_bucket_name" {
  description = "Threat-intel bucket: the data-processing function reads `raw/` and writes `knowledge/`."
  type        = string
}

variable "threat_intel_bucket_arn" {
  description = "ARN of the threat-intel bucket."
  type        = string
}

variable "knowledge_base_id" {
  description = "Knowledge base re-synced after new knowledge is written."
  type        = string
}

variable "knowledge_base_arn" {
  description = "ARN of the knowledge base."
  type        = string
}

variable "data_source_id" {
  description = "Knowledge base data source to start ingestion jobs on."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
