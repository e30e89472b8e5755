data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region

  # Each function's environment is exactly what its settings class (lambdas/<name>/.../settings.py)
  # reads; `python -m devtools.terraform_check` compares the two. AWS_REGION is set by Lambda itself.
  functions = {
    auth = {
      description = "API Gateway REST and WebSocket authorizer: verifies Cognito JWTs, maps groups to roles"
      timeout     = 10
      memory      = 256
      environment = {
        ACSO_ENV                   = var.env
        ACSO_AWS_ACCOUNT_ID        = local.account_id
        ACSO_COGNITO_USER_POOL_ID  = var.user_pool_id
        ACSO_COGNITO_APP_CLIENT_ID = join(",", var.app_client_ids)
      }
    }
    notification = {
      description = "Delivers notification-topic incidents to the Slack, email (SES) and webhook channels of its secret"
      timeout     = 60
      memory      = 256
      environment = {
        ACSO_ENV             = var.env
        ACSO_AWS_ACCOUNT_ID  = local.account_id
        ACSO_CHAT_SECRET_ARN = var.chat_secret_arn
        ACSO_CONSOLE_URL     = var.console_url
      }
    }
    data_processing = {
      description = "Runs the hunting rules over new CloudTrail and VPC flow log objects; hits go to the supervisor as alert.ingest"
      timeout     = 300
      memory      = 1024
      environment = {
        ACSO_ENV            = var.env
        ACSO_AWS_ACCOUNT_ID = local.account_id
      }
    }
  }

  async_functions = toset(["notification", "data_processing"])

  log_bucket_names = [for arn in var.log_bucket_arns : element(split(":", arn), 5)]
  # SES authorises SendEmail against the sending identity; without a list, any identity of this
  # account and region (the channel secret names the sender).
  ses_identity_arns = coalescelist(
    var.ses_identity_arns,
    ["arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/*"],
  )
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
      sid       = "ReadChannelSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.chat_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "notification" ? [1] : []
    content {
      sid       = "SendEmail"
      actions   = ["ses:SendEmail", "ses:SendRawEmail"]
      resources = local.ses_identity_arns
    }
  }

  dynamic "statement" {
    # Delivered (message, channel) pairs, so an SNS redelivery skips the channels already done.
    for_each = each.key == "notification" ? [1] : []
    content {
      sid       = "DeliveryLedger"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      resources = [var.idempotency_table_arn]
    }
  }

  dynamic "statement" {
    # GetObjectVersion: EventBridge names the version of objects in versioned buckets.
    for_each = each.key == "data_processing" && length(var.log_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "ReadLogObjects"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = [for arn in var.log_bucket_arns : "${arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "data_processing" ? [1] : []
    content {
      sid       = "SendHitsToSupervisor"
      actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
      resources = [var.supervisor_queue_arn]
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
  #checkov:skip=CKV_AWS_115:Reserved concurrency is opt-in (var.reserved_concurrency): Lambda keeps 100 of the account's quota unreserved, so reserving on a new or sandbox account (quota 10) fails the deploy.
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
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, null)
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

# data_processing: EventBridge "Object Created" events of the log buckets. Chosen over an SQS event
# source because the function already has a DLQ and async retries, and EventBridge filters the keys
# (CloudTrail digest files and other prefixes never invoke it). It needs EventBridge notifications on
# each bucket; `manage_log_bucket_notifications` turns them on here.
resource "aws_s3_bucket_notification" "logs" {
  # count, not for_each: bucket names are often known only after apply.
  count = var.manage_log_bucket_notifications ? length(var.log_bucket_arns) : 0

  bucket      = local.log_bucket_names[count.index]
  eventbridge = true
}

resource "aws_cloudwatch_event_rule" "log_objects" {
  count = length(var.log_bucket_arns) > 0 ? 1 : 0

  name        = "${var.name_prefix}-log-objects-created"
  description = "New CloudTrail and VPC flow log objects go to the data-processing function"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = local.log_bucket_names }
      object = { key = [for pattern in var.log_key_patterns : { wildcard = pattern }] }
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "log_objects" {
  count = length(var.log_bucket_arns) > 0 ? 1 : 0

  rule      = aws_cloudwatch_event_rule.log_objects[0].name
  target_id = "data-processing"
  arn       = aws_lambda_function.this["data_processing"].arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }
}

resource "aws_lambda_permission" "log_objects" {
  count = length(var.log_bucket_arns) > 0 ? 1 : 0

  statement_id  = "AllowLogObjectsRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["data_processing"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.log_objects[0].arn
}
