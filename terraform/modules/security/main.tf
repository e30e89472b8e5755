data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition
}

# --- KMS ---------------------------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself; the root statement is the AWS default that delegates to IAM.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself, not every resource.
  #checkov:skip=CKV_AWS_109:Same: key policy statements apply only to this key; administration is delegated to account IAM.
  # The account administers the key through IAM; this is the key policy AWS creates by default.
  # "*" as resource is how key policies name the key they are attached to.
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsAcsoLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # EventBridge, SNS, CloudWatch alarms and AWS Budgets write to the encrypted queues and topic;
  # CloudTrail and AWS Config write encrypted log files. Each is limited to this account by a source condition.
  statement {
    sid       = "AwsServicesWriteEncryptedMessages"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "events.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com", "cloudtrail.amazonaws.com",
        "budgets.amazonaws.com", "config.amazonaws.com",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudTrailDescribesKey"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "ACSO ${var.env}: encrypts queues, topics, tables, buckets, secrets, logs and state"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_protection ? 30 : 7
  policy                  = data.aws_iam_policy_document.kms.json

  tags = merge({ Name = var.name_prefix }, var.tags)
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}

# --- Secrets -----------------------------------------------------------------------------------

# Credentials of third-party systems: the values are put by an operator
# (`aws secretsmanager put-secret-value`), never by Terraform, so they never enter the state.
resource "aws_secretsmanager_secret" "integration" {
  #checkov:skip=CKV2_AWS_57:Third-party API tokens rotate at the issuing system (ServiceNow, Jira, Slack); there is no AWS rotation Lambda for them.
  for_each = var.integration_secrets

  name                    = "acso-${var.env}/integrations/${each.value}"
  description             = "ACSO ${var.env}: ${each.key} integration credentials"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.deletion_protection ? 30 : 0

  tags = var.tags
}

# --- Cognito -----------------------------------------------------------------------------------

resource "aws_cognito_user_pool" "this" {
  name                     = "${var.name_prefix}-users"
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  admin_create_user_config {
    allow_admin_create_user_only = true # users are provisioned, never self-registered
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  tags = var.tags
}

resource "aws_cognito_user_group" "role" {
  for_each = toset(var.roles)

  name         = each.key
  user_pool_id = aws_cognito_user_pool.this.id
  description  = "ACSO role ${each.key}"
}

resource "aws_cognito_user_pool_domain" "this" {
  # Hosted domains are global: the account id keeps the prefix unique.
  domain       = "${var.name_prefix}-${local.account_id}"
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_cognito_resource_server" "acso" {
  identifier   = "acso"
  name         = "ACSO API"
  user_pool_id = aws_cognito_user_pool.this.id

  dynamic "scope" {
    for_each = toset(var.machine_scopes)
    content {
      scope_name        = scope.value
      scope_description = "ACSO ${scope.value}"
    }
  }
}

resource "aws_cognito_user_pool_client" "api" {
  name                                 = "${var.name_prefix}-api"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = false # a browser client cannot keep a secret: code flow with PKCE
  explicit_auth_flows                  = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  callback_urls                        = var.callback_urls
  supported_identity_providers         = ["COGNITO"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  access_token_validity                = 60
  id_token_validity                    = 60
  refresh_token_validity               = 12

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "hours"
  }
}

resource "aws_cognito_user_pool_client" "integrations" {
  name                                 = "${var.name_prefix}-integrations"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = [for s in var.machine_scopes : "${aws_cognito_resource_server.acso.identifier}/${s}"]
  supported_identity_providers         = ["COGNITO"]
  access_token_validity                = 60

  token_validity_units {
    access_token = "minutes"
  }
}

# --- WAF ---------------------------------------------------------------------------------------

locals {
  managed_rule_groups = {
    AWSManagedRulesAmazonIpReputationList = 10
    AWSManagedRulesCommonRuleSet          = 20
    AWSManagedRulesSQLiRuleSet            = 40
    AWSManagedRulesAnonymousIpList        = 50
  }
}

resource "aws_wafv2_web_acl" "this" {
  name        = "${var.name_prefix}-api"
  description = "ACSO ${var.env} API: AWS managed rules and a per-IP rate limit"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  # Known bad inputs (Log4Shell and other exploit payloads), written out so scanners see it.
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  dynamic "rule" {
    for_each = local.managed_rule_groups
    content {
      name     = rule.key
      priority = rule.value

      override_action {
        none {}
      }

      statement {
        managed_rule_group_statement {
          name        = rule.key
          vendor_name = "AWS"
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${var.name_prefix}-${rule.key}"
        sampled_requests_enabled   = true
      }
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name_prefix}-api"
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${var.name_prefix}" # WAF requires the aws-waf-logs- prefix
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn

  tags = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }
}

# --- SSM documents ------------------------------------------------------------------------------

# The Command documents service orchestration runs that AWS does not provide (operations.policy:
# `acso-<env>-RotateCredential` for rotate_credential operations). The task role may send only
# these and var.aws_ssm_documents.
resource "aws_ssm_document" "this" {
  for_each = {
    RotateCredential = {
      description = "ACSO: rotate a Secrets Manager secret from the instance that uses it, then confirm the new version is current"
      parameters = {
        CredentialName = {
          type           = "String"
          description    = "Name or ARN of the secret to rotate"
          allowedPattern = "^[A-Za-z0-9][A-Za-z0-9._/:-]{0,2047}$"
        }
      }
      commands = [
        "set -eu",
        "aws secretsmanager rotate-secret --secret-id '{{ CredentialName }}'",
        "aws secretsmanager describe-secret --secret-id '{{ CredentialName }}' --query 'VersionIdsToStages' --output json",
      ]
    }
  }

  name            = "${var.name_prefix}-${each.key}"
  document_type   = "Command"
  document_format = "JSON"
  target_type     = "/AWS::EC2::Instance"
  content = jsonencode({
    schemaVersion = "2.2"
    description   = each.value.description
    parameters    = each.value.parameters
    mainSteps = [{
      action       = "aws:runShellScript"
      name         = replace(each.key, "-", "")
      precondition = { StringEquals = ["platformType", "Linux"] }
      inputs       = { runCommand = each.value.commands, timeoutSeconds = "600" }
    }]
  })

  tags = merge({ Name = "${var.name_prefix}-${each.key}" }, var.tags)
}
