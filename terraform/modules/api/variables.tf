variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "agents" {
  description = "The agent services, keyed by snake_case name; each gets a target group and an ALB listener on its port."
  type = map(object({
    port     = number
    critical = bool
  }))
}

variable "public_agent" {
  description = "The agent the public REST and WebSocket APIs route to."
  type        = string
  default     = "supervisor"
}

variable "vpc_id" {
  description = "VPC of the load balancers."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the internal load balancers."
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "Security group of the ALB."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on the internal ALB. Null: the ALB listens on HTTP inside the VPC only (TLS ends at API Gateway)."
  type        = string
  default     = null
}

variable "access_logs_bucket" {
  description = "SSE-S3 bucket receiving ALB access logs (prefix `alb/`)."
  type        = string
}

variable "authorizer_invoke_arn" {
  description = "Invoke ARN of the auth Lambda (the REST and WebSocket authorizer)."
  type        = string
}

variable "authorizer_function_name" {
  description = "Name of the auth Lambda (for the invoke permission)."
  type        = string
}

variable "web_acl_arn" {
  description = "WAF web ACL associated with the REST API stage."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the API access log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the API access log groups, in days."
  type        = number
  default     = 365
}

variable "authorizer_cache_ttl_seconds" {
  description = "How long API Gateway caches the authorizer's answer per token. The answer is Allow for the whole stage for any verified token (the services decide per route), so caching it is safe."
  type        = number
  default     = 300

  validation {
    condition     = var.authorizer_cache_ttl_seconds >= 0 && var.authorizer_cache_ttl_seconds <= 3600
    error_message = "API Gateway caches authorizer results for 0 to 3600 seconds."
  }
}

variable "stage_name" {
  description = "Stage of the REST and WebSocket APIs."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]+$", var.stage_name))
    error_message = "stage_name must be alphanumeric or underscore."
  }
}

variable "throttle_rate_limit" {
  description = "Steady-state requests per second of the API stages."
  type        = number
  default     = 100
}

variable "throttle_burst_limit" {
  description = "Burst of requests of the API stages."
  type        = number
  default     = 200
}

variable "deletion_protection" {
  description = "Protect the load balancers from deletion (prod)."
  type        = bool
  default     = true
}

variable "manage_api_gateway_account" {
  description = "Set the account-wide API Gateway CloudWatch role (needed for execution logs; one per account and region)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
