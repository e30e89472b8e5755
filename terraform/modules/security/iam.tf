# One task role and one execution role per agent, each with only what that agent does.
# Statements whose resource is "*" are the actions AWS does not scope to a resource:
#   - xray:PutTraceSegments/PutTelemetryRecords/GetSampling*  (X-Ray has no resource-level permissions)
#   - cloudwatch:PutMetricData                                  (no resources; limited by namespace condition)
#   - cloudtrail:LookupEvents                                   (no resource-level permissions)
#   - ce:Get*/pricing:GetProducts                               (Cost Explorer/Pricing have none)
#   - ec2:Describe*, ssm:GetCommandInvocation, ecr:GetAuthorizationToken (list/describe/token calls)
#   - config:GetComplianceDetailsByResource                     (Config has no resource-level permissions for it)
#   - guardduty:GetFindings/ListFindings, ssmmessages:*, account-level remediation reads and settings
# What each service calls, with the ARN it targets, is registered in shared/acso_shared/aws/operations.py;
# `make tf-check` fails when a statement here lacks an (action, resource type) the code needs.

locals {
  kebab = { for k, _ in var.agents : k => replace(k, "_", "-") }

  no_conditions = []

  # What the shared library does in every agent; each agent's own task queue is its first statement.
  common_statements = [
    {
      sid        = "ReportResults"
      actions    = ["sqs:SendMessage", "sqs:GetQueueUrl"]
      resources  = [var.results_queue_arn]
      conditions = local.no_conditions
    },
    {
      sid = "AgentStateTables"
      actions = [
        "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable",
      ]
      resources  = flatten([for arn in values(var.table_arns) : [arn, "${arn}/index/*"]])
      conditions = local.no_conditions
    },
    {
      sid        = "ArtifactsReadWrite"
      actions    = ["s3:GetObject", "s3:PutObject"]
      resources  = ["${var.artifacts_bucket_arn}/*"]
      conditions = local.no_conditions
    },
    {
      sid        = "ArtifactsList"
      actions    = ["s3:ListBucket"]
      resources  = [var.artifacts_bucket_arn]
      conditions = local.no_conditions
    },
    {
      sid        = "UseAcsoKey"
      actions    = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources  = [aws_kms_key.this.arn]
      conditions = local.no_conditions
    },
    {
      sid        = "InvokeBedrockModels"
      actions    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources  = var.bedrock_model_arns
      conditions = local.no_conditions
    },
    {
      sid        = "ApplyGuardrail"
      actions    = ["bedrock:ApplyGuardrail"]
      resources  = [var.guardrail_arn]
      conditions = local.no_conditions
    },
    {
      sid        = "XRayTracing"
      actions    = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
      resources  = ["*"]
      conditions = local.no_conditions
    },
    {
      sid       = "PublishMetrics"
      actions   = ["cloudwatch:PutMetricData"]
      resources = ["*"]
      conditions = [{
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = ["ACSO"]
      }]
    },
    {
      # ECS Exec: the SSM agent in the task opens the session channels (no resource-level
      # permissions), and the cluster's exec configuration logs each session to this log group.
      sid        = "EcsExecChannels"
      actions    = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]
      resources  = ["*"]
      conditions = local.no_conditions
    },
    {
      sid        = "EcsExecSessionLogs"
      actions    = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      resources  = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/acso/${var.name_prefix}/ecs-exec:*"]
      conditions = local.no_conditions
    },
    {
      sid        = "EcsExecFindLogGroup" # DescribeLogGroups takes no log-group resource
      actions    = ["logs:DescribeLogGroups"]
      resources  = ["*"]
      conditions = local.no_conditions
    },
  ]

  retrieve_knowledge = {
    sid        = "RetrieveThreatKnowledge"
    actions    = ["bedrock:Retrieve"]
    resources  = [var.knowledge_base_arn]
    conditions = local.no_conditions
  }

  put_events = {
    sid        = "PublishLifecycleEvents"
    actions    = ["events:PutEvents"]
    resources  = [var.event_bus_arn]
    conditions = local.no_conditions
  }

  publish_notifications = {
    sid        = "PublishNotifications"
    actions    = ["sns:Publish"]
    resources  = [var.notifications_topic_arn]
    conditions = local.no_conditions
  }

  # AWS Config verdicts shown on incidents and operation previews (acso_shared.aws.compliance calls
  # GetComplianceDetailsByResource only). Read-only; the action takes no resource ARN, so "*".
  read_config_compliance = {
    sid        = "ReadConfigCompliance"
    actions    = ["config:GetComplianceDetailsByResource"]
    resources  = ["*"]
    conditions = local.no_conditions
  }

  # Secrets ECS injects into one agent's container only (agent_secrets in the compute module), on
  # top of the database URL every agent gets: the execution role reads them at task start.
  agent_startup_secrets = {
    supervisor = [var.ws_gateway_secret_arn]
  }

  # Containment never touches resources tagged acso:protected=true (the scope guard in code
  # checks the same tag; IAM makes it hold even if the code is wrong).
  unprotected = [{
    test     = "StringNotEquals"
    variable = "aws:ResourceTag/acso:protected"
    values   = ["true"]
  }]

  agent_statements = {
    supervisor = [
      {
        sid        = "ConsumeOwnTaskQueue"
        actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        resources  = [var.task_queue_arns["supervisor"]]
        conditions = local.no_conditions
      },
      {
        sid        = "ConsumeResultsAndFindings"
        actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        resources  = [var.results_queue_arn, var.findings_queue_arn]
        conditions = local.no_conditions
      },
      {
        sid        = "DispatchTasks"
        actions    = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
        resources  = values(var.task_queue_arns)
        conditions = local.no_conditions
      },
      {
        sid        = "InspectAndReplayDeadLetters"
        actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"]
        resources  = concat(values(var.task_dlq_arns), var.supervisor_dlq_arns)
        conditions = local.no_conditions
      },
      {
        sid        = "ReadThreatIntel"
        actions    = ["s3:GetObject", "s3:ListBucket"]
        resources  = [var.threat_intel_bucket_arn, "${var.threat_intel_bucket_arn}/*"]
        conditions = local.no_conditions
      },
      {
        sid        = "ReadWebhookSigningKey"
        actions    = ["secretsmanager:GetSecretValue"]
        resources  = [aws_secretsmanager_secret.integration["webhook_signing"].arn]
        conditions = local.no_conditions
      },
      {
        # Push live events to the WebSocket API's connections (acso_supervisor.ws_gateway:
        # post_to_connection on the stage's @connections API), nothing else of the API.
        sid        = "PostToWebSocketConnections"
        actions    = ["execute-api:ManageConnections"]
        resources  = [var.websocket_manage_connections_arn]
        conditions = local.no_conditions
      },
      local.retrieve_knowledge,
      local.put_events,
      local.publish_notifications,
    ]
    threat_hunter = [
      {
        sid        = "ConsumeOwnTaskQueue"
        actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        resources  = [var.task_queue_arns["threat_hunter"]]
        conditions = local.no_conditions
      },
      {
        sid        = "ThreatIntelReadWrite"
        actions    = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
        resources  = [var.threat_intel_bucket_arn, "${var.threat_intel_bucket_arn}/*"]
        conditions = local.no_conditions
      },
      {
        sid        = "ReadGuardDutyFindings"
        actions    = ["guardduty:GetFindings", "guardduty:ListFindings"] # authorised against "*" only (IAM reference)
        resources  = ["*"]
        conditions = local.no_conditions
      },
      {
        sid        = "ReadSecurityHubFindings"
        actions    = ["securityhub:GetFindings"]
        resources  = ["arn:${local.partition}:securityhub:${local.region}:${local.account_id}:hub/default"]
        conditions = local.no_conditions
      },
      {
        sid        = "LookupCloudTrailEvents"
        actions    = ["cloudtrail:LookupEvents"]
        resources  = ["*"]
        conditions = local.no_conditions
      },
      local.retrieve_knowledge,
    ]
    incident_response = [
      {
        sid        = "ConsumeOwnTaskQueue"
        actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        resources  = [var.task_queue_arns["incident_response"]]
        conditions = local.no_conditions
      },
      {
        sid        = "DescribeForScopeGuard" # Describe/List calls take no resource ARN
        actions    = ["ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:DescribeFlowLogs", "eks:ListClusters", "lambda:ListFunctions", "wafv2:ListIPSets"]
        resources  = ["*"]
        conditions = local.no_conditions
      },
      {
        sid     = "ContainInstances"
        actions = ["ec2:ModifyInstanceAttribute", "ec2:ModifyNetworkInterfaceAttribute", "ec2:StopInstances", "ec2:StartInstances", "ec2:CreateTags", "ec2:DeleteTags"]
        resources = [
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*",
        ]
        conditions = local.unprotected
      },
      {
        # CreateSnapshot is authorised against the volume and against the new snapshot (which has
        # no tags yet, so the protected-tag condition is on the volume statement only).
        sid        = "SnapshotUnprotectedVolumes"
        actions    = ["ec2:CreateSnapshot"]
        resources  = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:volume/*"]
        conditions = local.unprotected
      },
      {
        sid        = "CreateEvidenceSnapshots"
        actions    = ["ec2:CreateSnapshot"]
        resources  = ["arn:${local.partition}:ec2:${local.region}::snapshot/*"]
        conditions = local.no_conditions
      },
      {
        sid       = "TagEvidenceSnapshotsAtCreation"
        actions   = ["ec2:CreateTags"]
        resources = ["arn:${local.partition}:ec2:${local.region}::snapshot/*"]
        conditions = [{
          test     = "StringEquals"
          variable = "ec2:CreateAction"
          values   = ["CreateSnapshot"]
        }]
      },
      {
        # The per-VPC quarantine group: created once (tagged at creation), its default egress revoked,
        # then swapped onto instances (ModifyInstanceAttribute also checks the group).
        sid     = "QuarantineGroups"
        actions = ["ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress", "ec2:ModifyInstanceAttribute", "ec2:CreateTags"]
        resources = [
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc/*",
        ]
        conditions = local.no_conditions
      },
      {
        sid        = "ContainIamUsers"
        actions    = ["iam:GetUser", "iam:ListUserTags", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy"]
        resources  = ["arn:${local.partition}:iam::${local.account_id}:user/*"]
        conditions = local.unprotected
      },
      {
        sid        = "BlockListIpSet"
        actions    = ["wafv2:CreateIPSet", "wafv2:GetIPSet", "wafv2:UpdateIPSet"]
        resources  = ["arn:${local.partition}:wafv2:${local.region}:${local.account_id}:regional/ipset/${var.name_prefix}-blocklist/*"]
        conditions = local.no_conditions
      },
      {
        # S3 containment and Security Hub control remediations on buckets (public access,
        # encryption, versioning, evidence copies and tags), never on protected buckets.
        sid = "RemediateBuckets"
        actions = [
          "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketTagging",
          "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:GetBucketVersioning",
          "s3:PutBucketVersioning", "s3:GetBucketLogging", "s3:PutBucketLogging",
        ]
        resources  = ["arn:${local.partition}:s3:::*"]
        conditions = local.unprotected
      },
      {
        sid        = "EvidenceObjects"
        actions    = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:PutObject"]
        resources  = ["arn:${local.partition}:s3:::*/*"]
        conditions = local.no_conditions
      },
      {
        sid        = "ContainEcsTasks"
        actions    = ["ecs:StopTask", "ecs:DescribeTasks"]
        resources  = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/*"]
        conditions = local.unprotected
      },
      {
        sid        = "ContainRdsInstances"
        actions    = ["rds:CreateDBSnapshot", "rds:ModifyDBInstance", "rds:DescribeDBInstances", "rds:AddTagsToResource"]
        resources  = ["arn:${local.partition}:rds:${local.region}:${local.account_id}:db:*", "arn:${local.partition}:rds:${local.region}:${local.account_id}:snapshot:acso-*"]
        conditions = local.unprotected
      },
      {
        sid        = "ContainLambdaFunctions"
        actions    = ["lambda:GetFunction", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionUrlConfig", "lambda:DeleteFunctionUrlConfig"]
        resources  = ["arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:*"]
        conditions = local.unprotected
      },
      {
        sid        = "ContainEksClusters"
        actions    = ["eks:DescribeCluster", "eks:UpdateClusterConfig", "eks:TagResource"]
        resources  = ["arn:${local.partition}:eks:${local.region}:${local.account_id}:cluster/*"]
        conditions = local.unprotected
      },
      {
        # Security Hub control remediations that act on account-level settings.
        sid = "RemediateAccountControls"
        actions = [
          "ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault", "cloudtrail:DescribeTrails",
          "guardduty:ListDetectors", "iam:GetAccountPasswordPolicy", "iam:UpdateAccountPasswordPolicy",
        ]
        resources  = ["*"]
        conditions = local.no_conditions
      },
      {
        sid     = "EnableFlowLogs"
        actions = ["ec2:CreateFlowLogs"]
        resources = [
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc-flow-log/*",
        ]
        conditions = local.no_conditions
      },
      {
        sid        = "RemediateTrails"
        actions    = ["cloudtrail:GetTrailStatus", "cloudtrail:StartLogging", "cloudtrail:UpdateTrail"]
        resources  = ["arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/*"]
        conditions = local.unprotected
      },
      {
        sid        = "RemediateKeys"
        actions    = ["kms:EnableKeyRotation", "kms:GetKeyRotationStatus"]
        resources  = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"]
        conditions = local.unprotected
      },
      {
        sid        = "RemediateTopicsAndQueues"
        actions    = ["sns:SetTopicAttributes", "sns:GetTopicAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueAttributes"]
        resources  = ["arn:${local.partition}:sns:${local.region}:${local.account_id}:*", "arn:${local.partition}:sqs:${local.region}:${local.account_id}:*"]
        conditions = local.unprotected
      },
      {
        # Flow logs are delivered by the VPC Flow Logs service with a role the remediation passes.
        sid        = "PassFlowLogsRole"
        actions    = ["iam:PassRole"]
        resources  = ["arn:${local.partition}:iam::${local.account_id}:role/acso-*-flow-logs*"]
        conditions = [{ test = "StringEquals", variable = "iam:PassedToService", values = ["vpc-flow-logs.amazonaws.com"] }]
      },
      {
        # Reads of the remediations (acso_incident_response.actions: iam_needs()) that take no
        # resource ARN.
        sid = "RemediationReads"
        actions = [
          "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "config:DescribeDeliveryChannels",
          "s3:GetAccountPublicAccessBlock",
        ]
        resources  = ["*"]
        conditions = local.no_conditions
      },
      {
        sid = "RemediationScopedReads"
        actions = [
          "cloudtrail:GetTrail", "cloudtrail:ListTags", "config:DescribeConfigurationRecorders",
          "config:DescribeConfigurationRecorderStatus", "ecs:DescribeClusters", "eks:DescribeUpdate", "eks:ListUpdates",
          "guardduty:GetDetector", "kms:ListResourceTags", "lambda:GetFunctionConcurrency", "lambda:GetPolicy",
          "lambda:ListVersionsByFunction", "rds:DescribeDBClusters", "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots",
          "rds:DescribeDBSnapshotAttributes", "rds:DescribeDBClusterSnapshotAttributes", "s3:GetBucketPolicy",
          "s3:GetLifecycleConfiguration", "s3:GetObjectVersionTagging", "secretsmanager:ListSecretVersionIds",
          "securityhub:GetFindings", "sns:ListTagsForResource", "sqs:ListQueueTags",
        ]
        resources = [
          "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/*",
          "arn:${local.partition}:config:${local.region}:${local.account_id}:configuration-recorder/*",
          "arn:${local.partition}:ecs:${local.region}:${local.account_id}:cluster/*",
          "arn:${local.partition}:eks:${local.region}:${local.account_id}:cluster/*",
          "arn:${local.partition}:guardduty:${local.region}:${local.account_id}:detector/*",
          "arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*",
          "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:*",
          "arn:${local.partition}:rds:${local.region}:${local.account_id}:db:*",
          "arn:${local.partition}:rds:${local.region}:${local.account_id}:cluster:*",
          "arn:${local.partition}:rds:${local.region}:${local.account_id}:snapshot:*",
          "arn:${local.partition}:rds:${local.region}:${local.account_id}:cluster-snapshot:*",
          "arn:${local.partition}:s3:::*",
          "arn:${local.partition}:s3:::*/*",
          "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:*",
          "arn:${local.partition}:securityhub:${local.region}:${local.account_id}:hub/default",
          "arn:${local.partition}:sns:${local.region}:${local.account_id}:*",
          "arn:${local.partition}:sqs:${local.region}:${local.account_id}:*",
        ]
        conditions = local.no_conditions
      },
      {
        # Account-level Security Hub controls and their reverts (no resource ARN).
        sid = "RemediateAccountSettings"
        actions = [
          "ec2:DisableEbsEncryptionByDefault", "iam:DeleteAccountPasswordPolicy", "s3:PutAccountPublicAccessBlock",
          "guardduty:CreateDetector", "config:PutDeliveryChannel", "config:DeleteDeliveryChannel", "kms:CreateKey",
          "logs:CreateLogDelivery", "logs:DeleteLogDelivery",
        ]
        resources  = ["*"]
        conditions = local.no_conditions
      },
      {
        sid        = "RemediateDetectorsAndRecorders"
        actions    = ["guardduty:UpdateDetector", "guardduty:DeleteDetector", "config:PutConfigurationRecorder", "config:StartConfigurationRecorder", "config:StopConfigurationRecorder", "config:DeleteConfigurationRecorder"]
        resources  = ["arn:${local.partition}:guardduty:${local.region}:${local.account_id}:detector/*", "arn:${local.partition}:config:${local.region}:${local.account_id}:configuration-recorder/*"]
        conditions = local.no_conditions
      },
      {
        # The trail, bucket, key and log group the remediations create are named acso-<env>-... .
        sid     = "RemediationOwnResources"
        actions = ["cloudtrail:CreateTrail", "cloudtrail:DeleteTrail", "s3:CreateBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration", "kms:CreateAlias", "logs:CreateLogGroup"]
        resources = [
          "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/acso-*",
          "arn:${local.partition}:s3:::acso-*-security-logs-*",
          "arn:${local.partition}:kms:${local.region}:${local.account_id}:alias/acso-*",
          "arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*",
          "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*",
        ]
        conditions = local.no_conditions
      },
      {
        sid        = "RemediationKeys"
        actions    = ["kms:PutKeyPolicy", "kms:TagResource", "kms:CreateGrant", "kms:DisableKeyRotation"]
        resources  = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"]
        conditions = local.unprotected
      },
      {
        # Service roles for flow logs, trails and Config deliveries: acso-* roles only, AWS managed
        # service-role policies only, passed only to the services that deliver logs.
        sid        = "RemediationServiceRoles"
        actions    = ["iam:CreateRole", "iam:GetRole", "iam:TagRole", "iam:PutRolePolicy"]
        resources  = ["arn:${local.partition}:iam::${local.account_id}:role/acso-*"]
        conditions = local.no_conditions
      },
      {
        sid       = "RemediationRolePolicies"
        actions   = ["iam:AttachRolePolicy"]
        resources = ["arn:${local.partition}:iam::${local.account_id}:role/acso-*"]
        conditions = [{
          test     = "ArnLike"
          variable = "iam:PolicyARN"
          values   = ["arn:${local.partition}:iam::aws:policy/service-role/*"]
        }]
      },
      {
        sid       = "PassRemediationRoles"
        actions   = ["iam:PassRole"]
        resources = ["arn:${local.partition}:iam::${local.account_id}:role/acso-*"]
        conditions = [{
          test     = "StringEquals"
          variable = "iam:PassedToService"
          values   = ["vpc-flow-logs.amazonaws.com", "cloudtrail.amazonaws.com", "config.amazonaws.com", "delivery.logs.amazonaws.com"]
        }]
      },
      {
        sid       = "ConfigServiceLinkedRole"
        actions   = ["iam:CreateServiceLinkedRole"]
        resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/config.amazonaws.com/*"]
        conditions = [{
          test     = "StringEquals"
          variable = "iam:AWSServiceName"
          values   = ["config.amazonaws.com"]
        }]
      },
      {
        sid = "RemediateWorkloads"
        actions = [
          "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
          "ec2:ModifyInstanceMetadataOptions", "ec2:ModifySubnetAttribute", "ec2:DeleteFlowLogs", "eks:UntagResource",
          "lambda:AddPermission", "lambda:RemovePermission", "lambda:CreateFunctionUrlConfig", "lambda:PublishVersion",
          "rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot", "rds:ModifyDBCluster", "rds:ModifyDBSnapshotAttribute",
          "rds:ModifyDBClusterSnapshotAttribute", "s3:DeleteObject", "secretsmanager:CreateSecret", "secretsmanager:RotateSecret",
        ]
        resources = [
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group-rule/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/*",
          "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc-flow-log/*",
          "arn:${local.partition}:eks:${local.region}:${local.account_id}:cluster/*",
          "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:*",
          "arn:${local.partition}:rds:${local.region}:${local.account_id}:db:*",
          "arn:${local.partition}:rds:${local.region}:${local.account_id}:cluster:*",
          "arn:${local.partition}:rds:${local.region}:${local.account_id}:snapshot:*",
          "arn:${local.partition}:rds:${local.region}:${local.account_id}:cluster-snapshot:*",
          "arn:${local.partition}:s3:::*/*",
          "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:*",
        ]
        conditions = local.unprotected
      },
      {
        sid        = "UpdateSecurityHubFindings"
        actions    = ["securityhub:BatchUpdateFindings"]
        resources  = ["arn:${local.partition}:securityhub:${local.region}:${local.account_id}:hub/default"]
        conditions = local.no_conditions
      },
      {
        sid        = "ReadChatWebhook"
        actions    = ["secretsmanager:GetSecretValue"]
        resources  = [aws_secretsmanager_secret.integration["slack"].arn]
        conditions = local.no_conditions
      },
      local.read_config_compliance,
      local.retrieve_knowledge,
      local.put_events,
      local.publish_notifications,
    ]
    service_orchestration = [
      {
        sid        = "ConsumeOwnTaskQueue"
        actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        resources  = [var.task_queue_arns["service_orchestration"]]
        conditions = local.no_conditions
      },
      {
        sid     = "RunApprovedRunbooks"
        actions = ["ssm:SendCommand"]
        # The documents operations.policy runs: AWS's own, and the ones this module creates.
        resources = concat(
          [for d in var.aws_ssm_documents : "arn:${local.partition}:ssm:${local.region}::document/${d}"],
          [for d in aws_ssm_document.this : d.arn],
        )
        conditions = local.no_conditions
      },
      {
        sid        = "RunbooksOnUnprotectedInstances"
        actions    = ["ssm:SendCommand"]
        resources  = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*"]
        conditions = local.unprotected
      },
      {
        sid        = "ReadCommandResults"
        actions    = ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "ssm:CancelCommand", "ec2:DescribeInstances"]
        resources  = ["*"]
        conditions = local.no_conditions
      },
      local.read_config_compliance,
      {
        sid        = "ReadItsmCredentials"
        actions    = ["secretsmanager:GetSecretValue"]
        resources  = [aws_secretsmanager_secret.integration["servicenow"].arn, aws_secretsmanager_secret.integration["jira"].arn]
        conditions = local.no_conditions
      },
      local.put_events,
    ]
    financial_intelligence = [
      {
        sid        = "ConsumeOwnTaskQueue"
        actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
        resources  = [var.task_queue_arns["financial_intelligence"]]
        conditions = local.no_conditions
      },
      {
        sid        = "ReadCosts"
        actions    = ["ce:GetCostAndUsage", "ce:GetCostForecast", "ce:GetDimensionValues", "pricing:GetProducts", "ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSnapshots", "cloudwatch:GetMetricStatistics"]
        resources  = ["*"]
        conditions = local.no_conditions
      },
      local.put_events,
    ]
  }
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "task" {
  for_each = var.agents

  dynamic "statement" {
    for_each = concat(local.common_statements, local.agent_statements[each.key])
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role" "task" {
  for_each = var.agents

  name               = "${var.name_prefix}-${local.kebab[each.key]}-task"
  description        = "ACSO ${each.key}: what the agent's code may do"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = merge({ Name = "${var.name_prefix}-${local.kebab[each.key]}-task", Agent = each.key }, var.tags)
}

resource "aws_iam_role_policy" "task" {
  for_each = var.agents

  name   = "agent"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.task[each.key].json
}

data "aws_iam_policy_document" "execution" {
  for_each = var.agents

  statement {
    sid       = "EcrToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullOwnImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.ecr_repository_arns[each.key]]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arns[each.key]}:*"]
  }

  statement {
    sid       = "ReadStartupSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = concat([var.database_secret_arn], lookup(local.agent_startup_secrets, each.key, []))
  }

  statement {
    sid       = "DecryptWithAcsoKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }
}

resource "aws_iam_role" "execution" {
  for_each = var.agents

  name               = "${var.name_prefix}-${local.kebab[each.key]}-exec"
  description        = "ACSO ${each.key}: what ECS needs to start the task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = merge({ Name = "${var.name_prefix}-${local.kebab[each.key]}-exec", Agent = each.key }, var.tags)
}

resource "aws_iam_role_policy" "execution" {
  for_each = var.agents

  name   = "start-task"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}
