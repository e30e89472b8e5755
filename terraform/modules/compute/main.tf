data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  kebab  = { for k, _ in var.agents : k => replace(k, "_", "-") }
  region = data.aws_region.current.region

  # Every variable the services' settings require, in one place. The database URL carries no
  # password: PGPASSWORD (which asyncpg reads when the URL has none) comes from the RDS-managed
  # secret's `password` key, read by ECS at task start. ACSO_SERVICE_PORT is added per agent below.
  # tests/terraform checks this list against the services' settings.
  container_environment = {
    ACSO_ENV                       = var.env
    ACSO_DATABASE_URL              = var.database_url
    AWS_REGION                     = local.region
    ACSO_AWS_ACCOUNT_ID            = data.aws_caller_identity.current.account_id
    ACSO_SERVICE_HOST              = "0.0.0.0"
    ACSO_LOG_LEVEL                 = var.log_level
    ACSO_LLM_PROVIDER              = "bedrock"
    ACSO_BEDROCK_MODEL_ID          = var.bedrock_model_id
    ACSO_BEDROCK_GUARDRAIL_ID      = var.guardrail_id
    ACSO_BEDROCK_GUARDRAIL_VERSION = var.guardrail_version
    ACSO_KNOWLEDGE_BASE_ID         = var.knowledge_base_id
    ACSO_COGNITO_USER_POOL_ID      = var.user_pool_id
    ACSO_COGNITO_APP_CLIENT_ID     = var.app_client_id
    ACSO_TRACING_ENABLED           = tostring(var.tracing_enabled)
  }

  container_secrets = {
    PGPASSWORD = "${var.database_secret_arn}:password::"
  }

  # What one agent needs on top of the above (merged by agent key). The supervisor is the back end
  # of the API Gateway WebSocket API (acso_supervisor.ws_gateway): it pushes live events through
  # the stage's @connections endpoint and accepts /v1/ws/* calls only with the header value the
  # api module's integrations send (kept in the acso-<env>/ws-gateway secret, read by ECS at start).
  #
  # The supervisor also serves the web console (acso_supervisor.console.settings): in AWS users log
  # in through the Cognito Hosted UI and come back to the stage URL; the console's same-origin API
  # proxy reaches the other agents on the internal ALB's listeners (not on the supervisor's
  # localhost, as locally), and its live updates come through the WebSocket API.
  #
  # Incident response contains only resources of the accounts on its allow-list (the deployment
  # account and var.allowed_account_ids' members); it refuses to start without one outside local.
  agent_environment = {
    supervisor = {
      ACSO_WS_MANAGEMENT_ENDPOINT   = var.ws_management_endpoint
      ACSO_CONSOLE_LOGIN            = "hosted_ui"
      ACSO_CONSOLE_HOSTED_UI_DOMAIN = var.console_hosted_ui_domain
      ACSO_CONSOLE_REDIRECT_URI     = var.console_redirect_uri
      ACSO_CONSOLE_UPSTREAM_HOST    = var.console_upstream_host
      ACSO_CONSOLE_UPSTREAM_SCHEME  = var.console_upstream_scheme
      ACSO_CONSOLE_STREAM_URL       = var.console_stream_url
    }
    incident_response = { ACSO_ALLOWED_ACCOUNT_IDS = jsonencode(var.allowed_account_ids) } # a JSON list, as pydantic-settings reads one
  }

  agent_secrets = {
    supervisor = { ACSO_WS_GATEWAY_SECRET = var.ws_gateway_secret_arn }
  }
}

# --- ECR ---------------------------------------------------------------------------------------

resource "aws_ecr_repository" "this" {
  for_each = var.agents

  name                 = "${var.name_prefix}-${local.kebab[each.key]}"
  image_tag_mutability = "IMMUTABLE"      # a tag always names the same image: deploys are reproducible
  force_delete         = var.force_delete # a repository holding images can be destroyed only with this

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = merge({ Name = "${var.name_prefix}-${local.kebab[each.key]}", Agent = each.key }, var.tags)
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 30 most recent images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 30
      }
      action = { type = "expire" }
    }]
  })
}

# --- Cluster -----------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "exec" {
  name              = "/acso/${var.name_prefix}/ecs-exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = var.name_prefix

  setting {
    name  = "containerInsights"
    value = "enhanced" # RunningTaskCount per service feeds the queue-depth autoscaling
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE" # ECS Exec sessions are audited in an encrypted log group

      log_configuration {
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
        cloud_watch_encryption_enabled = true
      }
    }
  }

  tags = merge({ Name = var.name_prefix }, var.tags)
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# --- Task definitions and services -------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_336:The root filesystem is read-only unless ECS Exec is enabled: the SSM agent ECS Exec injects must write to it (AWS does not support ECS Exec with readonlyRootFilesystem).
  for_each = var.agents

  family                   = "${var.name_prefix}-${local.kebab[each.key]}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  task_role_arn            = var.task_role_arns[each.key]
  execution_role_arn       = var.execution_role_arns[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name                   = local.kebab[each.key]
      image                  = "${aws_ecr_repository.this[each.key].repository_url}:${var.image_tag}"
      essential              = true
      readonlyRootFilesystem = !var.enable_execute_command
      portMappings           = [{ containerPort = each.value.port, protocol = "tcp" }]
      environment            = [for k, v in merge(local.container_environment, { ACSO_SERVICE_PORT = tostring(each.value.port) }, lookup(local.agent_environment, each.key, {})) : { name = k, value = v }]
      secrets                = [for k, v in merge(local.container_secrets, lookup(local.agent_secrets, each.key, {})) : { name = k, valueFrom = v }]
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      healthCheck = {
        command     = ["CMD-SHELL", "python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:${each.value.port}/healthz', timeout=3)\" || exit 1"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }
      stopTimeout = 60 # time to drain in-flight messages after SIGTERM
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_names[each.key]
          awslogs-region        = local.region
          awslogs-stream-prefix = "app"
        }
      }
    },
    {
      name                   = "xray-daemon"
      image                  = "public.ecr.aws/xray/aws-xray-daemon:3.3.14"
      essential              = false
      readonlyRootFilesystem = true
      portMappings           = [{ containerPort = 2000, protocol = "udp" }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_names[each.key]
          awslogs-region        = local.region
          awslogs-stream-prefix = "xray"
        }
      }
    },
  ])

  volume {
    name = "tmp" # the root filesystem is read-only; scratch space lives here
  }

  tags = merge({ Name = "${var.name_prefix}-${local.kebab[each.key]}", Agent = each.key }, var.tags)
}

resource "aws_ecs_service" "this" {
  for_each = var.agents

  name                              = "${var.name_prefix}-${local.kebab[each.key]}"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this[each.key].arn
  desired_count                     = var.min_capacity
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"
  enable_ecs_managed_tags           = true
  enable_execute_command            = var.enable_execute_command # sessions are logged by the cluster's exec configuration

  # Critical agents run on regular Fargate; the others keep one regular task and put the rest
  # on Fargate Spot (queue consumers drain on SIGTERM, so an interruption loses no work).
  dynamic "capacity_provider_strategy" {
    for_each = each.value.critical ? { FARGATE = { base = 0, weight = 1 } } : { FARGATE = { base = 1, weight = 0 }, FARGATE_SPOT = { base = 0, weight = 1 } }
    content {
      capacity_provider = capacity_provider_strategy.key
      base              = capacity_provider_strategy.value.base
      weight            = capacity_provider_strategy.value.weight
    }
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.ecs_security_group_id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arns[each.key]
    container_name   = local.kebab[each.key]
    container_port   = each.value.port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling after creation
  }

  tags = merge({ Name = "${var.name_prefix}-${local.kebab[each.key]}", Agent = each.key }, var.tags)

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

# --- Autoscaling on queue depth ----------------------------------------------------------------

resource "aws_appautoscaling_target" "this" {
  for_each = var.agents

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
}

resource "aws_appautoscaling_policy" "backlog" {
  for_each = var.agents

  name               = "${var.name_prefix}-${local.kebab[each.key]}-backlog"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension

  # Backlog per task = visible messages / running tasks (the AWS-recommended SQS scaling metric).
  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_task
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "Visible task messages"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = var.task_queue_names[each.key]
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "Running tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.this[each.key].name
            }
          }
        }
      }

      metrics {
        id          = "backlog"
        label       = "Backlog per task"
        expression  = "visible / IF(tasks > 0, tasks, 1)"
        return_data = true
      }
    }
  }
}

# --- Restart after a database password rotation ------------------------------------------------

# ECS reads PGPASSWORD when a task starts, so after RDS rotates the master password the running
# tasks would fail on their next new connection. Each successful rotation of the database secret
# (a Secrets Manager service event, through CloudTrail) starts this state machine, which rolls
# every service onto new tasks (forceNewDeployment; the circuit breaker still applies).
data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "restart" {
  name               = "${var.name_prefix}-restart-services"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "restart" {
  statement {
    sid       = "RollServices"
    actions   = ["ecs:UpdateService"]
    resources = [for s in aws_ecs_service.this : s.id]
  }

  statement {
    sid       = "WriteExecutionLogs" # Step Functions log delivery has no resource-level permissions
    actions   = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
    resources = ["*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "restart" {
  name   = "restart-services"
  role   = aws_iam_role.restart.id
  policy = data.aws_iam_policy_document.restart.json
}

resource "aws_cloudwatch_log_group" "restart" {
  name              = "/acso/${var.name_prefix}/restart-services"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_sfn_state_machine" "restart" {
  name     = "${var.name_prefix}-restart-services"
  role_arn = aws_iam_role.restart.arn

  definition = jsonencode({
    Comment = "Roll every ACSO service onto new tasks (new PGPASSWORD) after a database password rotation"
    StartAt = "EachService"
    States = {
      EachService = {
        Type           = "Map"
        ItemsPath      = "$.services"
        MaxConcurrency = 1
        Iterator = {
          StartAt = "ForceNewDeployment"
          States = {
            ForceNewDeployment = {
              Type       = "Task"
              Resource   = "arn:aws:states:::aws-sdk:ecs:updateService"
              Parameters = { "Cluster" = aws_ecs_cluster.this.name, "Service.$" = "$", "ForceNewDeployment" = true }
              Retry      = [{ ErrorEquals = ["Ecs.EcsException", "States.TaskFailed"], IntervalSeconds = 10, MaxAttempts = 3, BackoffRate = 2 }]
              End        = true
            }
          }
        }
        End = true
      }
    }
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.restart.arn}:*"
    include_execution_data = true # the inputs are S3 object keys or ECS service names: nothing secret
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = var.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "database_rotated" {
  name        = "${var.name_prefix}-database-password-rotated"
  description = "The RDS-managed database secret was rotated: restart the services"
  event_pattern = jsonencode({
    source        = ["aws.secretsmanager"]
    "detail-type" = ["AWS Service Event via CloudTrail"]
    detail = {
      eventSource         = ["secretsmanager.amazonaws.com"]
      eventName           = ["RotationSucceeded"]
      additionalEventData = { SecretId = [var.database_secret_arn] }
    }
  })

  tags = var.tags
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "restart_trigger" {
  name               = "${var.name_prefix}-restart-trigger"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "restart_trigger" {
  statement {
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.restart.arn]
  }
}

resource "aws_iam_role_policy" "restart_trigger" {
  name   = "start-restart"
  role   = aws_iam_role.restart_trigger.id
  policy = data.aws_iam_policy_document.restart_trigger.json
}

resource "aws_cloudwatch_event_target" "database_rotated" {
  rule      = aws_cloudwatch_event_rule.database_rotated.name
  target_id = "restart-services"
  arn       = aws_sfn_state_machine.restart.arn
  role_arn  = aws_iam_role.restart_trigger.arn
  input     = jsonencode({ services = [for s in aws_ecs_service.this : s.name] })
}
