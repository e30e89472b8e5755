data "aws_partition" "current" {}

locals {
  functions = {
    auth = {
      description = "API Gateway REST and WebSocket authorizer: verifies Cognito JWTs, maps groups to roles"
      timeout     = 10
      memory      = 256
      concurrency = 50
      environment = {
        ACSO_ENV                   = var.env
        ACSO_COGNITO_USER_POOL_ID  = var.user_pool_id
        ACSO_COGNITO_APP_CLIENT_ID = join(",", var.app_client_ids)
      }
    }
    notification = {
      description = "Formats notification-topic messages and posts them to chat"
      timeout     = 30
      memory      = 256
      concurrency = 10
      environment = {
        ACSO_ENV             = var.env
        ACSO_CHAT_SECRET_ARN = var.chat_secret_arn
      }
    }
    data_processing = {
      description = "Normalises raw threat-intel objects into knowledge documents and re-syncs the knowledge base"
      timeout     = 300
      memory      = 1024
      concurrency = 5
      environment = {
        ACSO_ENV                 = var.env
        ACSO_THREAT_INTEL_BUCKET = var.threat_intel_bucket_name
        ACSO_KNOWLEDGE_BASE_ID   = var.knowledge_base_id
        ACSO_KB_DATA_SOURCE_ID   = var.data_source_id
      }
    }
  }

  async_functions = toset(["notification", "data_processing"])
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.name_prefix}-lambda-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  tags = merge({ Name = "${var.name_prefix}-lambda-dlq" }, var.tags)
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.functions

  name               = "${var.name_prefix}-${replace(each.key, "_", "-")}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

# ENI management for VPC functions; AWS's managed policy (ec2:CreateNetworkInterface and friends
# do not support resource-level scoping).
resource "aws_iam_role_policy_attachment" "vpc" {
  for_each = local.functions

  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:*:*:log-group:${var.log_group_names[each.key]}:*"]
  }

  statement {
    sid       = "XRayTracing" # X-Ray has no resource-level permissions
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DecryptEnvironmentAndSources"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  dynamic "statement" {
    for_each = contains(local.async_functions, each.key) ? [1] : []
    content {
      sid       = "DeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dlq.arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "notification" ? [1] : []
    content {
      sid       = "ReadChatWebhook"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.chat_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "data_processing" ? [1] : []
    content {
      sid       = "ReadRawIntel"
      actions   = ["s3:GetObject"]
      resources = ["${var.threat_intel_bucket_arn}/raw/*"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "data_processing" ? [1] : []
    content {
      sid       = "WriteKnowledge"
      actions   = ["s3:PutObject"]
      resources = ["${var.threat_intel_bucket_arn}/knowledge/*"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "data_processing" ? [1] : []
    content {
      sid       = "SyncKnowledgeBase"
      actions   = ["bedrock:StartIngestionJob", "bedrock:GetIngestionJob"]
      resources = [var.knowledge_base_arn]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "function"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_272:Packages are built from this repository by `make lambdas` in CI; code signing needs an AWS Signer profile per account, left to adopters.
  for_each = local.functions

  function_name                  = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description                    = each.value.description
  role                           = aws_iam_role.this[each.key].arn
  runtime                        = var.runtime
  handler                        = var.handlers[each.key]
  filename                       = "${var.dist_dir}/${each.key}.zip"
  source_code_hash               = filebase64sha256("${var.dist_dir}/${each.key}.zip")
  timeout                        = each.value.timeout
  memory_size                    = each.value.memory
  reserved_concurrent_executions = each.value.concurrency
  kms_key_arn                    = var.kms_key_arn
  architectures                  = ["x86_64"]

  environment {
    variables = each.value.environment
  }

  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [var.lambda_security_group_id]
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = var.log_group_names[each.key]
  }

  dynamic "dead_letter_config" {
    # The authorizer is invoked synchronously: there is nothing to dead-letter.
    for_each = contains(local.async_functions, each.key) ? [1] : []
    content {
      target_arn = aws_sqs_queue.dlq.arn
    }
  }

  tags = merge({ Name = "${var.name_prefix}-${replace(each.key, "_", "-")}" }, var.tags)

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy_attachment.vpc]
}

# --- Triggers ----------------------------------------------------------------------------------

resource "aws_sns_topic_subscription" "notification" {
  topic_arn = var.notifications_topic_arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.this["notification"].arn
}

resource "aws_lambda_permission" "notification" {
  statement_id  = "AllowNotificationTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["notification"].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = var.notifications_topic_arn
}

resource "aws_cloudwatch_event_rule" "raw_intel" {
  name        = "${var.name_prefix}-raw-intel-created"
  description = "New raw threat-intel objects go to the data-processing function"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [var.threat_intel_bucket_name] }
      object = { key = [{ prefix = "raw/" }] }
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "raw_intel" {
  rule      = aws_cloudwatch_event_rule.raw_intel.name
  target_id = "data-processing"
  arn       = aws_lambda_function.this["data_processing"].arn
}

resource "aws_lambda_permission" "raw_intel" {
  statement_id  = "AllowRawIntelRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["data_processing"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.raw_intel.arn
}
