data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  region       = data.aws_region.current.region
  partition    = data.aws_partition.current.partition
  trail_name   = "${var.name_prefix}-trail"
  trail_bucket = "${var.name_prefix}-cloudtrail-${local.account_id}"
  # AWS Config deliveries share the trail bucket (same encryption, retention and access logging).
  config_prefix = "config"
}

# --- Log groups --------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "agent" {
  for_each = var.agents

  name              = "/acso/${var.name_prefix}/${replace(each.key, "_", "-")}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = merge({ Agent = each.key }, var.tags)
}

resource "aws_cloudwatch_log_group" "lambda" {
  for_each = toset(var.lambda_names)

  name              = "/aws/lambda/${var.name_prefix}-${replace(each.key, "_", "-")}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# --- Alarms ------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = toset(var.dlq_names)

  alarm_name          = "${each.key}-not-empty"
  alarm_description   = "Messages are dead-lettered in ${each.key}: inspect and replay through the API"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.key }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${var.name_prefix}-alb-target-5xx"
  alarm_description   = "Agent services answer with 5xx"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.error_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name_prefix}-api-5xx"
  alarm_description   = "The public REST API answers with 5xx"
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = var.rest_api_name, Stage = var.rest_api_stage }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.error_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "${var.name_prefix}-api-latency-p95"
  alarm_description   = "p95 latency of the public REST API is above ${var.latency_p95_threshold_ms} ms"
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = { ApiName = var.rest_api_name, Stage = var.rest_api_stage }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.latency_p95_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alb_latency" {
  alarm_name          = "${var.name_prefix}-alb-latency-p95"
  alarm_description   = "p95 response time of the agent services is above ${var.latency_p95_threshold_ms} ms"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.latency_p95_threshold_ms / 1000 # this metric is in seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]

  tags = var.tags
}

# Lambda: any error or throttle of a function is worth a look (the authorizer's errors lock users
# out; the asynchronous functions retry, then dead-letter).
resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = { for pair in setproduct(keys(var.lambda_function_names), ["Errors", "Throttles"]) : "${pair[0]}-${lower(pair[1])}" => { function = var.lambda_function_names[pair[0]], metric = pair[1] } }

  alarm_name          = "${each.value.function}-${lower(each.value.metric)}"
  alarm_description   = "${each.value.function}: ${each.value.metric} in the last 5 minutes"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  tags = var.tags
}

# ECS: an agent with no running task processes nothing (its queue only grows). Missing data means
# no task reported at all, which is the same outage.
resource "aws_cloudwatch_metric_alarm" "ecs_running_tasks" {
  for_each = var.ecs_service_names

  alarm_name          = "${each.value}-no-running-task"
  alarm_description   = "${each.key} has fewer than ${var.min_running_tasks} running task(s)"
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.ecs_cluster_name, ServiceName = each.value }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.min_running_tasks
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  tags = var.tags
}

# RDS: the incident and workflow store. CPU, free storage (autoscaling storage has a ceiling),
# connections, and the replica's lag when there is one.
locals {
  rds_alarms = merge(
    {
      cpu = {
        instance   = var.database_identifier, metric = "CPUUtilization", statistic = "Average", threshold = var.rds_cpu_threshold_percent,
        comparison = "GreaterThanThreshold", description = "CPU above ${var.rds_cpu_threshold_percent}% for 15 minutes"
      }
      free_storage = {
        instance   = var.database_identifier, metric = "FreeStorageSpace", statistic = "Minimum", threshold = var.rds_free_storage_threshold_gib * 1073741824,
        comparison = "LessThanThreshold", description = "less than ${var.rds_free_storage_threshold_gib} GiB of free storage"
      }
      freeable_memory = {
        instance   = var.database_identifier, metric = "FreeableMemory", statistic = "Minimum", threshold = 134217728,
        comparison = "LessThanThreshold", description = "less than 128 MiB of freeable memory"
      }
    },
    var.database_replica_identifier == null ? {} : {
      replica_lag = {
        instance   = var.database_replica_identifier, metric = "ReplicaLag", statistic = "Maximum", threshold = var.rds_replica_lag_threshold_s,
        comparison = "GreaterThanThreshold", description = "read replica more than ${var.rds_replica_lag_threshold_s} s behind"
      }
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "rds" {
  for_each = local.rds_alarms

  alarm_name          = "${each.value.instance}-${replace(each.key, "_", "-")}"
  alarm_description   = "${each.value.instance}: ${each.value.description}"
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = each.value.instance }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 3
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = "missing"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  tags = var.tags
}

# --- Budget ------------------------------------------------------------------------------------

# The environment's monthly cost, through the provider's Environment default tag (activate it as a
# cost allocation tag in the Billing console once; until then the filter matches nothing). Alerts
# go to the notifications topic: actual spend past the first threshold, forecast past 100 %.
resource "aws_budgets_budget" "monthly" {
  count = var.monthly_budget_usd > 0 ? 1 : 0

  name         = "${var.name_prefix}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  dynamic "cost_filter" {
    for_each = var.budget_cost_allocation_tag == null ? [] : [var.budget_cost_allocation_tag]
    content {
      name   = "TagKeyValue"
      values = ["user:${cost_filter.value.key}$${cost_filter.value.value}"]
    }
  }

  dynamic "notification" {
    for_each = var.budget_actual_thresholds_percent
    content {
      comparison_operator       = "GREATER_THAN"
      threshold                 = notification.value
      threshold_type            = "PERCENTAGE"
      notification_type         = "ACTUAL"
      subscriber_sns_topic_arns = [var.alarm_topic_arn]
    }
  }

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 100
    threshold_type            = "PERCENTAGE"
    notification_type         = "FORECASTED"
    subscriber_sns_topic_arns = [var.alarm_topic_arn]
  }

  tags = var.tags
}

# --- Dashboard ---------------------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Task queue depth"
          region  = local.region
          stat    = "Maximum"
          period  = 60
          metrics = [for q in values(var.task_queue_names) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Dead-lettered messages"
          region  = local.region
          stat    = "Maximum"
          period  = 300
          metrics = [for q in var.dlq_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "API requests, 5xx, p95 latency"
          region = local.region
          period = 300
          metrics = [
            ["AWS/ApiGateway", "Count", "ApiName", var.rest_api_name, "Stage", var.rest_api_stage, { stat = "Sum" }],
            ["AWS/ApiGateway", "5XXError", "ApiName", var.rest_api_name, "Stage", var.rest_api_stage, { stat = "Sum" }],
            ["AWS/ApiGateway", "Latency", "ApiName", var.rest_api_name, "Stage", var.rest_api_stage, { stat = "p95", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Running tasks per agent"
          region  = local.region
          stat    = "Average"
          period  = 60
          metrics = [for s in values(var.ecs_service_names) : ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.ecs_cluster_name, "ServiceName", s]]
        }
      },
    ]
  })
}

# --- X-Ray -------------------------------------------------------------------------------------

resource "aws_xray_sampling_rule" "this" {
  rule_name      = "${var.name_prefix}-default"
  priority       = 1000
  reservoir_size = 1 # one trace per second per service always, then the rate
  fixed_rate     = var.xray_sampling_rate
  host           = "*"
  http_method    = "*"
  url_path       = "*"
  service_name   = "acso-*"
  service_type   = "*"
  resource_arn   = "*"
  version        = 1

  tags = var.tags
}

resource "aws_xray_sampling_rule" "health" {
  rule_name      = "${var.name_prefix}-health"
  priority       = 100
  reservoir_size = 0 # health checks are never traced
  fixed_rate     = 0
  host           = "*"
  http_method    = "GET"
  url_path       = "/*z"
  service_name   = "acso-*"
  service_type   = "*"
  resource_arn   = "*"
  version        = 1

  tags = var.tags
}

# --- GuardDuty ---------------------------------------------------------------------------------

# A region has one detector per account, and accounts under Organizations or Control Tower already
# have it (enabled by the delegated administrator). So the default uses the existing detector; a
# fresh sandbox account sets create_guardduty_detector = true. Findings reach ACSO through the
# EventBridge rule either way (messaging module).
resource "aws_guardduty_detector" "this" {
  #checkov:skip=CKV2_AWS_3:This stack is single-account; organisation-wide enablement belongs to the GuardDuty delegated administrator account.
  count = var.create_guardduty_detector ? 1 : 0

  enable                       = true
  finding_publishing_frequency = "FIFTEEN_MINUTES"

  tags = var.tags
}

# Fails the plan with "no GuardDuty detector found" when the account has none: set
# create_guardduty_detector = true there.
data "aws_guardduty_detector" "existing" {
  count = var.create_guardduty_detector ? 0 : 1
}

resource "aws_guardduty_detector_feature" "this" {
  for_each = var.create_guardduty_detector ? toset(["S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", "RUNTIME_MONITORING"]) : toset([])

  detector_id = aws_guardduty_detector.this[0].id
  name        = each.key
  status      = "ENABLED"

  dynamic "additional_configuration" {
    for_each = each.key == "RUNTIME_MONITORING" ? ["ECS_FARGATE_AGENT_MANAGEMENT"] : []
    content {
      name   = additional_configuration.value
      status = "ENABLED"
    }
  }
}

# --- AWS Config --------------------------------------------------------------------------------

# Incident response and service orchestration ask Config for the compliance of the resources an
# incident names (GetComplianceDetailsByResource), so Config must record them and evaluate rules.
# A region has one recorder per account; most organisations already run one (Control Tower, a
# Config conformance pack), so the default uses it and only adds ACSO's rules. A fresh account sets
# create_config_recorder = true: a recorder of every supported resource type, delivering to the
# CloudTrail bucket under config/.
data "aws_iam_policy_document" "config_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "config" {
  count = var.create_config_recorder ? 1 : 0

  name               = "${var.name_prefix}-config-recorder"
  assume_role_policy = data.aws_iam_policy_document.config_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "config" {
  count = var.create_config_recorder ? 1 : 0

  role       = aws_iam_role.config[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

data "aws_iam_policy_document" "config_delivery" {
  statement {
    sid       = "CheckBucket"
    actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
    resources = [aws_s3_bucket.trail.arn]
  }

  statement {
    sid       = "DeliverSnapshotsAndHistory"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail.arn}/${local.config_prefix}/AWSLogs/${local.account_id}/*"]
  }

  statement {
    sid       = "EncryptDeliveries"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "config" {
  count = var.create_config_recorder ? 1 : 0

  name   = "deliver-to-trail-bucket"
  role   = aws_iam_role.config[0].id
  policy = data.aws_iam_policy_document.config_delivery.json
}

resource "aws_config_configuration_recorder" "this" {
  count = var.create_config_recorder ? 1 : 0

  name     = "${var.name_prefix}-recorder"
  role_arn = aws_iam_role.config[0].arn

  recording_group {
    all_supported                 = true
    include_global_resource_types = var.config_include_global_resources
  }
}

resource "aws_config_delivery_channel" "this" {
  count = var.create_config_recorder ? 1 : 0

  name           = "${var.name_prefix}-delivery"
  s3_bucket_name = aws_s3_bucket.trail.id
  s3_key_prefix  = local.config_prefix
  s3_kms_key_arn = var.kms_key_arn

  snapshot_delivery_properties {
    delivery_frequency = "TwentyFour_Hours"
  }

  depends_on = [aws_config_configuration_recorder.this, aws_s3_bucket_policy.trail, aws_iam_role_policy.config]
}

resource "aws_config_configuration_recorder_status" "this" {
  count = var.create_config_recorder ? 1 : 0

  name       = aws_config_configuration_recorder.this[0].name
  is_enabled = true

  depends_on = [aws_config_delivery_channel.this]
}

# AWS managed rules over what incidents name: instances, their security groups and volumes,
# buckets, and the IAM users owning access keys. Rules need a recorder in the region (the one
# created above, or the account's own).
resource "aws_config_config_rule" "this" {
  for_each = var.create_config_rules ? var.config_rules : {}

  name        = "${var.name_prefix}-${replace(lower(each.key), "_", "-")}"
  description = each.value.description

  source {
    owner             = "AWS"
    source_identifier = each.key
  }

  input_parameters = length(each.value.parameters) > 0 ? jsonencode(each.value.parameters) : null

  tags = var.tags

  depends_on = [aws_config_configuration_recorder_status.this]
}

# --- CloudTrail --------------------------------------------------------------------------------

resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_144:Trail logs are integrity-validated and versioned; cross-region replication is a per-organisation choice.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to trail log deliveries; CloudTrail also streams to CloudWatch Logs.
  bucket        = local.trail_bucket
  force_destroy = !var.deletion_protection

  tags = merge({ Name = local.trail_bucket }, var.tags)
}

resource "aws_s3_bucket_ownership_controls" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "trail" {
  bucket                  = aws_s3_bucket.trail.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "trail" {
  bucket = aws_s3_bucket.trail.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  bucket = aws_s3_bucket.trail.id

  rule {
    id     = "archive-trail"
    status = "Enabled"

    filter {}

    transition {
      days          = 90
      storage_class = "GLACIER_IR"
    }

    expiration {
      days = 2555 # seven years
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.trail]
}

resource "aws_s3_bucket_logging" "trail" {
  bucket        = aws_s3_bucket.trail.id
  target_bucket = var.access_logs_bucket
  target_prefix = "cloudtrail/"
}

data "aws_iam_policy_document" "trail_bucket" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${local.trail_name}"]
    }
  }

  statement {
    sid       = "CloudTrailWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail.arn}/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${local.trail_name}"]
    }
  }

  # AWS Config (service-linked role or the recorder role above) checks the bucket, then writes.
  statement {
    sid       = "ConfigBucketCheck"
    actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
    resources = [aws_s3_bucket.trail.arn]
    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "ConfigWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail.arn}/${local.config_prefix}/AWSLogs/${local.account_id}/Config/*"]
    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.trail.arn, "${aws_s3_bucket.trail.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  bucket = aws_s3_bucket.trail.id
  policy = data.aws_iam_policy_document.trail_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.trail]
}

resource "aws_cloudwatch_log_group" "trail" {
  name              = "/acso/${var.name_prefix}/cloudtrail"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "trail_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "trail" {
  name               = "${var.name_prefix}-cloudtrail-logs"
  assume_role_policy = data.aws_iam_policy_document.trail_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "trail_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.trail.arn}:*"]
  }
}

resource "aws_iam_role_policy" "trail" {
  name   = "write-trail-logs"
  role   = aws_iam_role.trail.id
  policy = data.aws_iam_policy_document.trail_logs.json
}

resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV_AWS_252:The trail streams to CloudWatch Logs; a notification per delivered log file adds noise, not signal.
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail.id
  kms_key_id                    = var.kms_key_arn
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.trail.arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.trail.arn

  event_selector {
    read_write_type           = "All"
    include_management_events = true
  }

  tags = var.tags

  depends_on = [aws_s3_bucket_policy.trail, aws_iam_role_policy.trail]
}
