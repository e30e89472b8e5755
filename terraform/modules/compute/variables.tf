variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "env" {
  description = "Environment name, passed to the services as ACSO_ENV."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.env))
    error_message = "env must be lower-case letters and digits."
  }
}

variable "agents" {
  description = "The agent services, keyed by snake_case name: container port and whether the agent is critical (critical agents never run on Fargate Spot)."
  type = map(object({
    port     = number
    critical = bool
  }))

  validation {
    condition     = alltrue([for a in values(var.agents) : a.port >= 1024 && a.port <= 65535])
    error_message = "Agent ports must be unprivileged (1024-65535)."
  }
}

variable "image_tag" {
  description = "Tag of the service images to run (`make deploy` pushes the git commit)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the ECR repositories and ECS Exec sessions."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets the tasks run in."
  type        = list(string)
}

variable "ecs_security_group_id" {
  description = "Security group of the tasks."
  type        = string
}

variable "target_group_arns" {
  description = "ALB target group ARN of each agent."
  type        = map(string)
}

variable "task_role_arns" {
  description = "Task role ARN of each agent."
  type        = map(string)
}

variable "execution_role_arns" {
  description = "Execution role ARN of each agent."
  type        = map(string)
}

variable "log_group_names" {
  description = "CloudWatch log group name of each agent."
  type        = map(string)
}

variable "task_queue_names" {
  description = "Task queue name of each agent (the autoscaling signal)."
  type        = map(string)
}

variable "database_secret_arn" {
  description = "ARN of the RDS-managed secret of the database credentials; PGPASSWORD is its `password` key."
  type        = string
}

variable "database_url" {
  description = "ACSO_DATABASE_URL without a password (the data module's database_url output)."
  type        = string
}

variable "allowed_account_ids" {
  description = "ACSO_ALLOWED_ACCOUNT_IDS of incident response: the accounts its actions may touch (the deployment account and its members)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_account_ids) > 0 && alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids must hold at least one 12-digit AWS account id."
  }
}

variable "enable_execute_command" {
  description = "ECS Exec into the agents' containers (sessions are KMS-encrypted and logged). Needs a writable root filesystem, so the containers' is read-only only when this is false."
  type        = bool
  default     = true
}

variable "force_delete" {
  description = "Let `terraform destroy` delete the ECR repositories although they hold images."
  type        = bool
  default     = false
}

variable "ws_management_endpoint" {
  description = "The supervisor's ACSO_WS_MANAGEMENT_ENDPOINT: https:// endpoint of the WebSocket API stage's @connections API (api module output websocket_management_endpoint)."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+/[A-Za-z0-9_]+$", var.ws_management_endpoint))
    error_message = "ws_management_endpoint must look like https://<api-id>.execute-api.<region>.amazonaws.com/<stage>."
  }
}

variable "ws_gateway_secret_arn" {
  description = "ARN of the secret ECS injects into the supervisor as ACSO_WS_GATEWAY_SECRET (the header value API Gateway's WebSocket integrations send; api module output ws_gateway_secret_arn)."
  type        = string
}

variable "console_redirect_uri" {
  description = "The web console's URL, where the Cognito Hosted UI sends users back (api module output console_url; a callback URL of the app client)."
  type        = string
}

variable "console_hosted_ui_domain" {
  description = "Origin of the Cognito Hosted UI the console logs users in through (security module output hosted_ui_url)."
  type        = string
}

variable "console_upstream_host" {
  description = "Host the console's API proxy reaches the agents on: the internal ALB, one listener per agent port (api module output alb_dns_name)."
  type        = string
}

variable "console_stream_url" {
  description = "The console's live event stream: the API Gateway WebSocket API's stage URL (api module output websocket_url; the REST API cannot carry /v1/stream)."
  type        = string
}

variable "console_upstream_scheme" {
  description = "Scheme of the internal ALB's listeners (api module output alb_scheme)."
  type        = string
  default     = "http"

  validation {
    condition     = contains(["http", "https"], var.console_upstream_scheme)
    error_message = "console_upstream_scheme is http or https."
  }
}

variable "log_level" {
  description = "ACSO_LOG_LEVEL of the services."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "bedrock_model_id" {
  description = "ACSO_BEDROCK_MODEL_ID."
  type        = string
}

variable "guardrail_id" {
  description = "ACSO_BEDROCK_GUARDRAIL_ID."
  type        = string
}

variable "guardrail_version" {
  description = "ACSO_BEDROCK_GUARDRAIL_VERSION."
  type        = string
}

variable "knowledge_base_id" {
  description = "ACSO_KNOWLEDGE_BASE_ID."
  type        = string
}

variable "user_pool_id" {
  description = "ACSO_COGNITO_USER_POOL_ID."
  type        = string
}

variable "app_client_id" {
  description = "ACSO_COGNITO_APP_CLIENT_ID."
  type        = string
}

variable "tracing_enabled" {
  description = "ACSO_TRACING_ENABLED: send X-Ray segments to the daemon sidecar."
  type        = bool
  default     = true
}

variable "task_cpu" {
  description = "Fargate CPU units per task."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.task_cpu)
    error_message = "task_cpu must be a Fargate CPU size."
  }
}

variable "task_memory" {
  description = "Fargate memory per task, MiB."
  type        = number
  default     = 1024
}

variable "min_capacity" {
  description = "Minimum tasks per agent."
  type        = number
  default     = 1

  validation {
    condition     = var.min_capacity >= 1
    error_message = "Keep at least one task per agent so queues are always consumed."
  }
}

variable "max_capacity" {
  description = "Maximum tasks per agent."
  type        = number
  default     = 6
}

variable "backlog_per_task" {
  description = "Target of the queue-depth autoscaling: visible task messages per running task."
  type        = number
  default     = 10

  validation {
    condition     = var.backlog_per_task > 0
    error_message = "backlog_per_task must be positive."
  }
}

variable "log_retention_days" {
  description = "Retention of the ECS Exec audit log group, in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
