variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "env" {
  description = "Environment name (dev, prod, ...); secrets are named `acso-<env>/...`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.env))
    error_message = "env must be lower-case letters and digits."
  }
}

variable "agents" {
  description = "The agent services, keyed by snake_case name."
  type = map(object({
    port     = number
    critical = bool
  }))

  validation {
    condition     = length(var.agents) > 0 && alltrue([for k, _ in var.agents : can(regex("^[a-z][a-z_]*$", k))])
    error_message = "Agent keys must be snake_case."
  }
}

variable "roles" {
  description = "Cognito groups, one per ACSO role."
  type        = list(string)
  default     = ["analyst", "responder", "it_operator", "executive", "admin"]
}

variable "machine_scopes" {
  description = "OAuth scopes of the `acso` resource server granted to machine integrations."
  type        = list(string)
  default     = ["alerts.write", "webhooks.write", "read"]
}

variable "integration_secrets" {
  description = "Integration secrets (logical name -> path under `acso-<env>/integrations/`). Values are set out of band."
  type        = map(string)
  default = {
    servicenow      = "servicenow"
    jira            = "jira"
    webhook_signing = "webhook-signing"
    slack           = "slack"
  }
}

variable "callback_urls" {
  description = "OAuth callback URLs of the web client: the console's URL (the REST API stage root, acso_supervisor.console's redirect URI) and any other it is served at."
  type        = list(string)
  default     = ["https://localhost:3000/callback"]

  validation {
    condition     = alltrue([for u in var.callback_urls : startswith(u, "https://")])
    error_message = "Callback URLs must use HTTPS."
  }
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one IP before the WAF blocks it."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 10 && var.waf_rate_limit <= 2000000000
    error_message = "waf_rate_limit must be between 10 and 2,000,000,000."
  }
}

variable "log_retention_days" {
  description = "Retention of the WAF log group, in days."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "Protect the user pool and keys from deletion (prod)."
  type        = bool
  default     = true
}

# ARNs of the resources the roles are scoped to. They come from the data, messaging, ai, compute,
# monitoring and api modules; Terraform orders the individual resources, so the graph has no cycle.

variable "task_queue_arns" {
  description = "Task queue ARN of each agent."
  type        = map(string)
}

variable "task_dlq_arns" {
  description = "Task dead-letter queue ARN of each agent."
  type        = map(string)
}

variable "results_queue_arn" {
  description = "ARN of the supervisor's results queue."
  type        = string
}

variable "findings_queue_arn" {
  description = "ARN of the supervisor's findings ingestion queue."
  type        = string
}

variable "supervisor_dlq_arns" {
  description = "ARNs of the results and findings dead-letter queues."
  type        = list(string)
}

variable "table_arns" {
  description = "DynamoDB table ARNs, by logical name."
  type        = map(string)
}

variable "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  type        = string
}

variable "threat_intel_bucket_arn" {
  description = "ARN of the threat-intel bucket."
  type        = string
}

variable "notifications_topic_arn" {
  description = "ARN of the notifications topic."
  type        = string
}

variable "event_bus_arn" {
  description = "ARN of the ACSO event bus."
  type        = string
}

variable "database_secret_arn" {
  description = "ARN of the `acso-<env>/database` secret (holds ACSO_DATABASE_URL)."
  type        = string
}

variable "bedrock_model_arns" {
  description = "Foundation model and inference profile ARNs the agents may invoke."
  type        = list(string)
}

variable "guardrail_arn" {
  description = "ARN of the Bedrock guardrail."
  type        = string
}

variable "knowledge_base_arn" {
  description = "ARN of the Bedrock knowledge base."
  type        = string
}

variable "websocket_manage_connections_arn" {
  description = "execute-api:ManageConnections resource of the WebSocket stage's connections, granted to the supervisor's task role (api module output)."
  type        = string
}

variable "ws_gateway_secret_arn" {
  description = "Secret ECS injects into the supervisor as ACSO_WS_GATEWAY_SECRET; its execution role may read it (api module output)."
  type        = string
}

variable "ecr_repository_arns" {
  description = "ECR repository ARN of each agent."
  type        = map(string)
}

variable "log_group_arns" {
  description = "CloudWatch log group ARN of each agent."
  type        = map(string)
}

variable "aws_ssm_documents" {
  description = "AWS-owned SSM Command documents service orchestration may run (operations.policy: restart_service, collect_forensics, patch)."
  type        = list(string)
  default     = ["AWS-RunShellScript", "AWS-RunPatchBaseline"]
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
