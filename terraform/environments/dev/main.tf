data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name_prefix = "acso-${var.env}"

  # The five agents (snake_case keys, as in acso_shared.resources.Agent) and their ports.
  # Non-critical agents may run on Fargate Spot.
  agents = {
    supervisor             = { port = 8000, critical = true }
    threat_hunter          = { port = 8001, critical = true }
    incident_response      = { port = 8002, critical = true }
    service_orchestration  = { port = 8003, critical = false }
    financial_intelligence = { port = 8004, critical = false }
  }

  lambdas_dist_dir = "${path.root}/../../../lambdas/dist"
}

module "security" {
  source = "../../modules/security"

  name_prefix         = local.name_prefix
  env                 = var.env
  agents              = local.agents
  callback_urls       = concat([module.api.console_url], var.callback_urls) # the console's redirect URI (compute) first
  log_retention_days  = var.log_retention_days
  deletion_protection = var.deletion_protection

  task_queue_arns         = module.messaging.task_queue_arns
  task_dlq_arns           = module.messaging.task_dlq_arns
  results_queue_arn       = module.messaging.results_queue_arn
  findings_queue_arn      = module.messaging.findings_queue_arn
  supervisor_dlq_arns     = module.messaging.supervisor_dlq_arns
  table_arns              = module.data.table_arns
  artifacts_bucket_arn    = module.data.artifacts_bucket_arn
  threat_intel_bucket_arn = module.data.threat_intel_bucket_arn
  notifications_topic_arn = module.messaging.notifications_topic_arn
  event_bus_arn           = module.messaging.event_bus_arn
  database_secret_arn     = module.data.database_secret_arn
  bedrock_model_arns      = module.ai.model_arns
  guardrail_arn           = module.ai.guardrail_arn
  knowledge_base_arn      = module.ai.knowledge_base_arn
  ecr_repository_arns     = module.compute.ecr_repository_arns
  log_group_arns          = module.monitoring.agent_log_group_arns

  # The supervisor's WebSocket wiring. security -> api -> security is no cycle: Terraform orders
  # resources, not modules; the WebSocket API (the @connections ARN is built from its id) uses
  # nothing of security's and the ws-gateway secret only its KMS key, never the role policies
  # that read them. So the real ARNs are passed, not rebuilt from names or put in SSM.
  websocket_manage_connections_arn = module.api.websocket_manage_connections_arn
  ws_gateway_secret_arn            = module.api.ws_gateway_secret_arn
}

module "network" {
  source = "../../modules/network"

  name_prefix             = local.name_prefix
  availability_zones      = var.availability_zones
  single_nat_gateway      = var.single_nat_gateway
  interface_endpoints     = var.interface_endpoints
  service_ports           = [for a in values(local.agents) : a.port]
  kms_key_arn             = module.security.kms_key_arn
  flow_log_retention_days = var.log_retention_days
}

module "data" {
  source = "../../modules/data"

  name_prefix                = local.name_prefix
  env                        = var.env
  kms_key_arn                = module.security.kms_key_arn
  private_subnet_ids         = module.network.private_subnet_ids
  database_security_group_id = module.network.database_security_group_id
  db_instance_class          = var.db_instance_class
  db_read_replicas           = var.db_read_replicas
  archive_tiering            = var.archive_tiering
  deletion_protection        = var.deletion_protection
}

module "messaging" {
  source = "../../modules/messaging"

  name_prefix = local.name_prefix
  agents      = local.agents
  kms_key_arn = module.security.kms_key_arn
}

module "ai" {
  source = "../../modules/ai"

  name_prefix                = local.name_prefix
  kms_key_arn                = module.security.kms_key_arn
  bedrock_model_id           = var.bedrock_model_id
  threat_intel_bucket_arn    = module.data.threat_intel_bucket_arn
  private_subnet_ids         = module.network.private_subnet_ids
  database_security_group_id = module.network.database_security_group_id
  log_retention_days         = var.log_retention_days
  deletion_protection        = var.deletion_protection
}

module "monitoring" {
  source = "../../modules/monitoring"

  name_prefix               = local.name_prefix
  agents                    = local.agents
  kms_key_arn               = module.security.kms_key_arn
  log_retention_days        = var.log_retention_days
  alarm_topic_arn           = module.messaging.notifications_topic_arn
  dlq_names                 = concat(values(module.messaging.dlq_names), [module.lambdas.dlq_name])
  alb_arn_suffix            = module.api.alb_arn_suffix
  rest_api_name             = module.api.rest_api_name
  rest_api_stage            = module.api.stage_name
  ecs_cluster_name          = module.compute.cluster_name
  ecs_service_names         = module.compute.service_names
  task_queue_names          = module.messaging.queue_names
  create_guardduty_detector = var.create_guardduty_detector
  create_config_recorder    = var.create_config_recorder
  create_config_rules       = var.create_config_rules
  access_logs_bucket        = module.data.access_logs_bucket_name
  deletion_protection       = var.deletion_protection

  lambda_function_names       = module.lambdas.function_names
  database_identifier         = module.data.database_identifier
  database_replica_identifier = try(module.data.database_replica_identifiers[0], null)
  monthly_budget_usd          = var.monthly_budget_usd
  budget_cost_allocation_tag  = var.budget_by_environment_tag ? { key = "Environment", value = var.env } : null
}

module "lambdas" {
  source = "../../modules/lambdas"

  name_prefix              = local.name_prefix
  env                      = var.env
  dist_dir                 = local.lambdas_dist_dir
  kms_key_arn              = module.security.kms_key_arn
  private_subnet_ids       = module.network.private_subnet_ids
  lambda_security_group_id = module.network.lambda_security_group_id
  log_group_names          = module.monitoring.lambda_log_group_names
  user_pool_id             = module.security.user_pool_id
  app_client_ids           = [module.security.app_client_id, module.security.machine_client_id]
  notifications_topic_arn  = module.messaging.notifications_topic_arn
  chat_secret_arn          = module.security.integration_secret_arns["slack"]
  idempotency_table_arn    = module.data.table_arns["idempotency"]
  supervisor_queue_arn     = module.messaging.task_queue_arns["supervisor"]
  reserved_concurrency     = var.lambda_reserved_concurrency
  # The CloudTrail trail's bucket; VPC flow logs go to CloudWatch Logs, not S3, in this stack.
  log_bucket_arns = ["arn:${data.aws_partition.current.partition}:s3:::${module.monitoring.trail_bucket_name}"]
}

module "api" {
  source = "../../modules/api"

  name_prefix                = local.name_prefix
  agents                     = local.agents
  vpc_id                     = module.network.vpc_id
  private_subnet_ids         = module.network.private_subnet_ids
  alb_security_group_id      = module.network.alb_security_group_id
  certificate_arn            = var.alb_certificate_arn
  access_logs_bucket         = module.data.access_logs_bucket_name
  authorizer_invoke_arn      = module.lambdas.authorizer_invoke_arn
  authorizer_function_name   = module.lambdas.authorizer_function_name
  web_acl_arn                = module.security.web_acl_arn
  kms_key_arn                = module.security.kms_key_arn
  log_retention_days         = var.log_retention_days
  deletion_protection        = var.deletion_protection
  manage_api_gateway_account = var.manage_api_gateway_account
}

module "compute" {
  source = "../../modules/compute"

  name_prefix           = local.name_prefix
  env                   = var.env
  agents                = local.agents
  image_tag             = var.image_tag
  kms_key_arn           = module.security.kms_key_arn
  private_subnet_ids    = module.network.private_subnet_ids
  ecs_security_group_id = module.network.ecs_security_group_id
  target_group_arns     = module.api.target_group_arns
  task_role_arns        = module.security.task_role_arns
  execution_role_arns   = module.security.execution_role_arns
  log_group_names       = module.monitoring.agent_log_group_names
  task_queue_names      = { for agent, _ in local.agents : agent => module.messaging.queue_names[agent] }
  database_secret_arn   = module.data.database_secret_arn
  database_url          = module.data.database_url
  log_level             = var.log_level
  log_retention_days    = var.log_retention_days
  bedrock_model_id      = module.ai.bedrock_model_id
  guardrail_id          = module.ai.guardrail_id
  guardrail_version     = module.ai.guardrail_version
  knowledge_base_id     = module.ai.knowledge_base_id
  user_pool_id          = module.security.user_pool_id
  app_client_id         = module.security.app_client_id
  min_capacity          = var.min_capacity
  max_capacity          = var.max_capacity

  # Containment may touch the deployment account and the member accounts it watches, no other.
  allowed_account_ids    = distinct(concat([data.aws_caller_identity.current.account_id], var.member_account_ids))
  enable_execute_command = var.enable_execute_command
  force_delete           = coalesce(var.ecr_force_delete, !var.deletion_protection)

  # Known once the WebSocket stage exists; the stage depends on nothing in compute (the ALB and NLB
  # live in the api module), so the supervisor's task definition can wait for it without a cycle.
  ws_management_endpoint = module.api.websocket_management_endpoint
  ws_gateway_secret_arn  = module.api.ws_gateway_secret_arn

  # The web console in AWS: users log in through the Cognito Hosted UI (code flow with PKCE) and
  # come back to the stage URL, a callback URL of the app client (security module, above); its
  # API proxy reaches the other agents on their internal ALB listeners.
  console_redirect_uri     = module.api.console_url
  console_hosted_ui_domain = module.security.hosted_ui_url
  console_upstream_host    = module.api.alb_dns_name
  console_upstream_scheme  = module.api.alb_scheme
  console_stream_url       = module.api.websocket_url
}
