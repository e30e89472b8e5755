data "aws_caller_identity" "current" {}

locals {
  # EventBridge wraps each finding into ACSO's message envelope (kind alert.ingest, idempotency key
  # = event id), as shared/acso_shared/resources.py FINDINGS_INPUT_TEMPLATE does locally.
  findings_input_paths    = { id = "$.id" }
  findings_input_template = "{\"idempotency_key\": \"eventbridge:<id>\", \"kind\": \"alert.ingest\", \"sender\": \"eventbridge\", \"payload\": {\"alerts\": [<aws.events.event.json>]}}"
  task_queues             = { for agent, _ in var.agents : agent => "${var.name_prefix}-${replace(agent, "_", "-")}-tasks" }
  supervisor_queues = {
    results  = "${var.name_prefix}-supervisor-results"
    findings = "${var.name_prefix}-supervisor-findings"
  }
  # Every work queue: the agents' task queues plus the supervisor's results and findings queues.
  queues = merge(local.task_queues, local.supervisor_queues)
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queues

  name                              = "${each.value}-dlq"
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  tags = merge({ Name = "${each.value}-dlq" }, var.tags)
}

resource "aws_sqs_queue" "this" {
  for_each = local.queues

  name                              = each.value
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = 20 # long polling
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = merge({ Name = each.value }, var.tags)
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}

data "aws_iam_policy_document" "tls_only_queue" {
  for_each = local.queues

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.this[each.key].arn]
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

  dynamic "statement" {
    # Only the findings queue is fed by EventBridge rules (GuardDuty, Security Hub).
    for_each = each.key == "findings" ? [1] : []
    content {
      sid       = "EventBridgeFindingRules"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.this[each.key].arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.guardduty.arn, aws_cloudwatch_event_rule.securityhub.arn]
      }
    }
  }

  dynamic "statement" {
    # The threat hunter's task queue receives the scheduled-hunt rule's envelopes.
    for_each = each.key == "threat_hunter" ? [1] : []
    content {
      sid       = "EventBridgeScheduledHunt"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.this[each.key].arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.scheduled_hunt.arn]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  for_each = local.queues

  queue_url = aws_sqs_queue.this[each.key].id
  policy    = data.aws_iam_policy_document.tls_only_queue[each.key].json
}

# --- SNS ---------------------------------------------------------------------------------------

# Incident response publishes high and critical incidents here itself (once: no EventBridge rule
# copies them), and the notification Lambda fans them out to Slack, email and webhooks.
resource "aws_sns_topic" "notifications" {
  name              = "${var.name_prefix}-notifications"
  kms_master_key_id = var.kms_key_arn

  tags = merge({ Name = "${var.name_prefix}-notifications" }, var.tags)
}

# A topic policy replaces SNS's default one, so the AWS services that notify through the topic
# must be allowed here: CloudWatch alarms, EventBridge rules and AWS Budgets, each only for this
# account. The account's own principals publish through their IAM policies (incident response).
data "aws_iam_policy_document" "notifications" {
  statement {
    sid       = "AwsServicesPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
    principals {
      type        = "Service"
      identifiers = var.publishing_services
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
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

resource "aws_sns_topic_policy" "notifications" {
  arn    = aws_sns_topic.notifications.arn
  policy = data.aws_iam_policy_document.notifications.json
}

# --- EventBridge -------------------------------------------------------------------------------

resource "aws_cloudwatch_event_bus" "this" {
  name               = "${var.name_prefix}-bus"
  kms_key_identifier = var.kms_key_arn

  tags = merge({ Name = "${var.name_prefix}-bus" }, var.tags)
}

# AWS service findings arrive on the default bus.
resource "aws_cloudwatch_event_rule" "guardduty" {
  name        = "${var.name_prefix}-guardduty-findings"
  description = "GuardDuty findings into the supervisor's ingestion queue"
  event_pattern = jsonencode({
    source        = ["aws.guardduty"]
    "detail-type" = ["GuardDuty Finding"]
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "securityhub" {
  name        = "${var.name_prefix}-securityhub-findings"
  description = "Security Hub ASFF findings into the supervisor's ingestion queue"
  event_pattern = jsonencode({
    source        = ["aws.securityhub"]
    "detail-type" = ["Security Hub Findings - Imported"]
  })

  tags = var.tags
}

# Hourly hunt: the threat hunter runs its enabled rules over the last window of CloudTrail events.
resource "aws_cloudwatch_event_rule" "scheduled_hunt" {
  name                = "${var.name_prefix}-scheduled-hunt"
  description         = "Hourly hunt with the enabled rules over the last window of CloudTrail events"
  schedule_expression = var.scheduled_hunt_rate

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "scheduled_hunt" {
  rule      = aws_cloudwatch_event_rule.scheduled_hunt.name
  target_id = "threat-hunter"
  arn       = aws_sqs_queue.this["threat_hunter"].arn

  # Each firing has its own event id, so each is a new task (shared/acso_shared/resources.py
  # SCHEDULED_HUNT_INPUT_TEMPLATE).
  input_transformer {
    input_paths    = { id = "$.id", time = "$.time" }
    input_template = "{\"idempotency_key\": \"hunt.scheduled:<id>\", \"kind\": \"hunt.scheduled\", \"sender\": \"eventbridge\", \"payload\": {\"scheduled_at\": \"<time>\"}}"
  }
}

resource "aws_cloudwatch_event_target" "guardduty" {
  rule      = aws_cloudwatch_event_rule.guardduty.name
  target_id = "supervisor-findings"
  arn       = aws_sqs_queue.this["findings"].arn

  # The same envelope as FINDINGS_INPUT_TEMPLATE in shared/acso_shared/resources.py.
  input_transformer {
    input_paths    = local.findings_input_paths
    input_template = local.findings_input_template
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["findings"].arn
  }
}

resource "aws_cloudwatch_event_target" "securityhub" {
  rule      = aws_cloudwatch_event_rule.securityhub.name
  target_id = "supervisor-findings"
  arn       = aws_sqs_queue.this["findings"].arn

  # The same envelope as FINDINGS_INPUT_TEMPLATE in shared/acso_shared/resources.py.
  input_transformer {
    input_paths    = local.findings_input_paths
    input_template = local.findings_input_template
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["findings"].arn
  }
}

# Undeliverable findings land in the findings DLQ: EventBridge must be allowed to write there too.
data "aws_iam_policy_document" "findings_dlq" {
  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq["findings"].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.guardduty.arn, aws_cloudwatch_event_rule.securityhub.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "findings_dlq" {
  queue_url = aws_sqs_queue.dlq["findings"].id
  policy    = data.aws_iam_policy_document.findings_dlq.json
}
