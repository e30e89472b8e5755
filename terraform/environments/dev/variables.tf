variable "env" {
  description = "Environment name; every resource is named `acso-<env>-...`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.env))
    error_message = "env must be lower-case letters and digits."
  }
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as us-east-1."
  }
}

variable "availability_zones" {
  description = "Two availability zones of the region."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "Exactly two availability zones are required."
  }
}

variable "image_tag" {
  description = "Tag of the service images (`make deploy` passes the git commit)."
  type        = string
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both zones (cheaper, less available)."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints."
  type        = list(string)
  default = [
    "sqs", "sns", "events", "secretsmanager", "kms", "logs", "monitoring", "ecr.api", "ecr.dkr",
    "bedrock-runtime", "bedrock-agent-runtime", "xray", "sts", "ssm",
  ]
}

variable "deletion_protection" {
  description = "Protect stateful resources (database, tables, buckets, user pool, load balancers) from deletion."
  type        = bool
  default     = true
}

variable "log_level" {
  description = "ACSO_LOG_LEVEL of the services."
  type        = string
  default     = "INFO"
}

variable "log_retention_days" {
  description = "Retention of every log group, in days."
  type        = number
  default     = 365
}

variable "bedrock_model_id" {
  description = "Bedrock model or inference profile the agents converse with."
  type        = string
  default     = "us.anthropic.claude-sonnet-4-20250514-v1:0"
}

variable "db_instance_class" {
  description = "RDS PostgreSQL instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "min_capacity" {
  description = "Minimum tasks per agent."
  type        = number
  default     = 1
}

variable "max_capacity" {
  description = "Maximum tasks per agent."
  type        = number
  default     = 6
}

variable "alb_certificate_arn" {
  description = "ACM certificate for HTTPS on the internal ALB (null: HTTP inside the VPC, TLS at API Gateway)."
  type        = string
  default     = null
}

variable "callback_urls" {
  description = "Further OAuth callback URLs of the web console (e.g. a custom domain in front of the stage); the stage URL (output console_url) is always one."
  type        = list(string)
  default     = []
}

variable "create_guardduty_detector" {
  description = "Create the GuardDuty detector. False (default): use the region's existing detector (Organizations/Control Tower accounts have one; a second environment in the same account must use it). A fresh account sets true."
  type        = bool
  default     = false
}

variable "create_config_recorder" {
  description = "Create an AWS Config recorder and delivery channel. False (default): use the account's existing recorder (a region has at most one). A fresh account sets true in one environment."
  type        = bool
  default     = false
}

variable "create_config_rules" {
  description = "Create ACSO's AWS Config rules (they need a recorder in the region)."
  type        = bool
  default     = true
}

variable "member_account_ids" {
  description = "Accounts besides the deployment account whose resources incident response may contain (ACSO_ALLOWED_ACCOUNT_IDS); each needs a role ACSO can use."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.member_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "member_account_ids must be 12-digit AWS account ids."
  }
}

variable "db_read_replicas" {
  description = "PostgreSQL read replicas."
  type        = number
  default     = 0
}

variable "archive_tiering" {
  description = "Intelligent-Tiering archive configurations of the artifacts bucket (see the data module); archived objects are unreadable until restored."
  type = map(object({
    bucket            = string
    prefix            = string
    archive_days      = optional(number, 90)
    deep_archive_days = optional(number)
  }))
  default = {}
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency by function (auth, notification, data_processing). Empty: none (a reservation fails on accounts with a low concurrency quota)."
  type        = map(number)
  default     = {}
}

variable "enable_execute_command" {
  description = "ECS Exec into the agents' containers (logged, KMS-encrypted sessions; the root filesystem is then writable)."
  type        = bool
  default     = true
}

variable "ecr_force_delete" {
  description = "Let destroy delete ECR repositories that hold images. Null: follows !deletion_protection."
  type        = bool
  default     = null
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget in USD, with alerts (80 %, 100 % actual; 100 % forecast) to the notifications topic. 0: no budget."
  type        = number
  default     = 0
}

variable "budget_by_environment_tag" {
  description = "Count only this environment's costs (the Environment tag, which must be activated as a cost allocation tag); false: the whole account."
  type        = bool
  default     = true
}

variable "manage_api_gateway_account" {
  description = "Set the account-wide API Gateway CloudWatch logging role."
  type        = bool
  default     = true
}
