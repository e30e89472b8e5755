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
  description = "OAuth callback URLs of the web console."
  type        = list(string)
  default     = ["https://localhost:3000/callback"]
}

variable "create_guardduty_detector" {
  description = "Create the GuardDuty detector (false if the account already has one in this region)."
  type        = bool
  default     = true
}

variable "manage_api_gateway_account" {
  description = "Set the account-wide API Gateway CloudWatch logging role."
  type        = bool
  default     = true
}
