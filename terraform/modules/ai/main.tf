data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition

  # An inference profile id is the model id with a geography prefix; invoking through a profile
  # needs permission on the profile and on the model in every region the profile routes to.
  is_inference_profile = can(regex("^(us|eu|apac|global|us-gov)\\.", var.bedrock_model_id))
  base_model_id        = replace(var.bedrock_model_id, "/^(us|eu|apac|global|us-gov)\\./", "")
  model_arns = concat(
    ["arn:${local.partition}:bedrock:*::foundation-model/${local.base_model_id}"],
    local.is_inference_profile ? ["arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${var.bedrock_model_id}"] : [],
  )
  embedding_model_arn = "arn:${local.partition}:bedrock:${local.region}::foundation-model/${var.embedding_model_id}"

  vector_database = "acso_kb"
}

# --- Guardrail ---------------------------------------------------------------------------------

resource "aws_bedrock_guardrail" "this" {
  name                      = "${var.name_prefix}-guardrail"
  description               = "ACSO: alert content is untrusted evidence; block prompt attacks, mask credentials"
  blocked_input_messaging   = "This request was blocked by the ACSO guardrail."
  blocked_outputs_messaging = "This response was blocked by the ACSO guardrail."
  kms_key_arn               = var.kms_key_arn

  content_policy_config {
    # Security analysis discusses attacks and malware; only clear abuse is filtered.
    dynamic "filters_config" {
      for_each = toset(["HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"])
      content {
        type            = filters_config.value
        input_strength  = "MEDIUM"
        output_strength = "MEDIUM"
      }
    }

    filters_config {
      type            = "PROMPT_ATTACK" # instructions smuggled into alerts or intel documents
      input_strength  = "HIGH"
      output_strength = "NONE" # AWS requires NONE on output for prompt attacks
    }
  }

  sensitive_information_policy_config {
    dynamic "pii_entities_config" {
      for_each = toset(["AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PASSWORD", "CREDIT_DEBIT_CARD_NUMBER"])
      content {
        type   = pii_entities_config.value
        action = "ANONYMIZE"
      }
    }
  }

  tags = var.tags
}

resource "aws_bedrock_guardrail_version" "this" {
  guardrail_arn = aws_bedrock_guardrail.this.guardrail_arn
  description   = "Published by Terraform"
}

# --- Vector store: Aurora PostgreSQL Serverless v2 with pgvector --------------------------------

resource "aws_db_subnet_group" "vectors" {
  name       = "${var.name_prefix}-vectors"
  subnet_ids = var.private_subnet_ids

  tags = merge({ Name = "${var.name_prefix}-vectors" }, var.tags)
}

# The major version only: the minor is AWS's default at creation, then Aurora upgrades it in the
# maintenance window (auto_minor_version_upgrade on the instance). The cluster ignores later
# changes of the looked-up default, so neither a retired minor nor an upgraded cluster ("Cannot
# upgrade from 16.8 to 16.6") ever breaks an apply.
data "aws_rds_engine_version" "vectors" {
  engine       = "aurora-postgresql"
  version      = var.vector_engine_major_version # a partial version: with `latest`, the newest default 16.x
  default_only = true
  latest       = true
}

resource "aws_rds_cluster_parameter_group" "vectors" {
  name   = "${var.name_prefix}-vectors${var.vector_engine_major_version}"
  family = data.aws_rds_engine_version.vectors.parameter_group_family

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true # a new major's group replaces the one the cluster still uses
  }
}

resource "aws_rds_cluster" "vectors" {
  #checkov:skip=CKV2_AWS_8:Backups are the cluster's automated backups (retention below); the vectors can also be rebuilt by re-syncing the knowledge base from S3.
  cluster_identifier                  = "${var.name_prefix}-vectors"
  engine                              = "aurora-postgresql"
  engine_mode                         = "provisioned"
  engine_version                      = data.aws_rds_engine_version.vectors.version_actual
  allow_major_version_upgrade         = false
  database_name                       = local.vector_database
  master_username                     = "bedrock_admin"
  manage_master_user_password         = true # RDS keeps the credentials in Secrets Manager, the format Bedrock and the Data API read
  master_user_secret_kms_key_id       = var.kms_key_arn
  enable_http_endpoint                = true # RDS Data API: Bedrock reaches the store through it
  storage_encrypted                   = true
  kms_key_id                          = var.kms_key_arn
  iam_database_authentication_enabled = true
  db_subnet_group_name                = aws_db_subnet_group.vectors.name
  db_cluster_parameter_group_name     = aws_rds_cluster_parameter_group.vectors.name
  vpc_security_group_ids              = [var.database_security_group_id]
  backup_retention_period             = 7
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.deletion_protection
  skip_final_snapshot                 = !var.deletion_protection
  final_snapshot_identifier           = var.deletion_protection ? "${var.name_prefix}-vectors-final" : null
  enabled_cloudwatch_logs_exports     = ["postgresql"]

  serverlessv2_scaling_configuration {
    min_capacity             = 0 # pauses when idle
    max_capacity             = var.vector_store_max_acu
    seconds_until_auto_pause = 3600
  }

  tags = merge({ Name = "${var.name_prefix}-vectors" }, var.tags)

  lifecycle {
    ignore_changes = [engine_version] # minor upgrades are AWS's; a major upgrade is a deliberate change
  }
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "vectors_monitoring" {
  name               = "${var.name_prefix}-vectors-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "vectors_monitoring" {
  role       = aws_iam_role.vectors_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_rds_cluster_instance" "vectors" {
  identifier                      = "${var.name_prefix}-vectors-1"
  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.vectors_monitoring.arn
  cluster_identifier              = aws_rds_cluster.vectors.id
  engine                          = aws_rds_cluster.vectors.engine
  instance_class                  = "db.serverless"
  publicly_accessible             = false
  auto_minor_version_upgrade      = true
  performance_insights_enabled    = true
  performance_insights_kms_key_id = var.kms_key_arn

  tags = merge({ Name = "${var.name_prefix}-vectors-1" }, var.tags)
}

# Bedrock requires the table to exist before the knowledge base is created. Terraform has no
# PostgreSQL resource in the AWS provider, so the deploying machine runs the idempotent DDL
# through the RDS Data API (needs the AWS CLI, which `make deploy` needs anyway for ECR).
resource "terraform_data" "vector_schema" {
  triggers_replace = [aws_rds_cluster_instance.vectors.id, var.embedding_dimensions]

  provisioner "local-exec" {
    command = "${path.module}/scripts/bootstrap_vector_store.sh"
    environment = {
      CLUSTER_ARN = aws_rds_cluster.vectors.arn
      SECRET_ARN  = aws_rds_cluster.vectors.master_user_secret[0].secret_arn
      DATABASE    = local.vector_database
      DIMENSIONS  = tostring(var.embedding_dimensions)
      AWS_REGION  = local.region
    }
  }
}

# --- Knowledge base ----------------------------------------------------------------------------

data "aws_iam_policy_document" "kb_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["bedrock.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:bedrock:${local.region}:${local.account_id}:knowledge-base/*"]
    }
  }
}

resource "aws_iam_role" "knowledge_base" {
  name               = "${var.name_prefix}-knowledge-base"
  assume_role_policy = data.aws_iam_policy_document.kb_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "knowledge_base" {
  statement {
    sid       = "Embed"
    actions   = ["bedrock:InvokeModel"]
    resources = [local.embedding_model_arn]
  }

  statement {
    sid       = "DescribeVectorStore"
    actions   = ["rds:DescribeDBClusters"]
    resources = [aws_rds_cluster.vectors.arn]
  }

  statement {
    sid       = "QueryVectorStore"
    actions   = ["rds-data:ExecuteStatement", "rds-data:BatchExecuteStatement"]
    resources = [aws_rds_cluster.vectors.arn]
  }

  statement {
    sid       = "VectorStoreCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_rds_cluster.vectors.master_user_secret[0].secret_arn]
  }

  statement {
    sid       = "ReadThreatIntel"
    actions   = ["s3:GetObject"]
    resources = ["${var.threat_intel_bucket_arn}/*"]
  }

  statement {
    sid       = "ListThreatIntel"
    actions   = ["s3:ListBucket"]
    resources = [var.threat_intel_bucket_arn]
  }

  statement {
    sid       = "DecryptSources"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "knowledge_base" {
  name   = "knowledge-base"
  role   = aws_iam_role.knowledge_base.id
  policy = data.aws_iam_policy_document.knowledge_base.json
}

resource "aws_bedrockagent_knowledge_base" "this" {
  name        = "${var.name_prefix}-threat-intel"
  description = "ACSO threat intelligence: reports, advisories and playbooks from the threat-intel bucket"
  role_arn    = aws_iam_role.knowledge_base.arn

  knowledge_base_configuration {
    type = "VECTOR"
    vector_knowledge_base_configuration {
      embedding_model_arn = local.embedding_model_arn
      embedding_model_configuration {
        bedrock_embedding_model_configuration {
          dimensions          = var.embedding_dimensions
          embedding_data_type = "FLOAT32"
        }
      }
    }
  }

  storage_configuration {
    type = "RDS"
    rds_configuration {
      resource_arn           = aws_rds_cluster.vectors.arn
      credentials_secret_arn = aws_rds_cluster.vectors.master_user_secret[0].secret_arn
      database_name          = local.vector_database
      table_name             = "bedrock_integration.bedrock_kb"
      field_mapping {
        primary_key_field     = "id"
        vector_field          = "embedding"
        text_field            = "chunks"
        metadata_field        = "metadata"
        custom_metadata_field = "custom_metadata"
      }
    }
  }

  tags = var.tags

  depends_on = [terraform_data.vector_schema, aws_iam_role_policy.knowledge_base]
}

resource "aws_bedrockagent_data_source" "threat_intel" {
  name                 = "${var.name_prefix}-threat-intel-s3"
  knowledge_base_id    = aws_bedrockagent_knowledge_base.this.id
  data_deletion_policy = "DELETE"

  data_source_configuration {
    type = "S3"
    s3_configuration {
      bucket_arn         = var.threat_intel_bucket_arn
      inclusion_prefixes = var.knowledge_prefixes
    }
  }

  server_side_encryption_configuration {
    kms_key_arn = var.kms_key_arn
  }

  vector_ingestion_configuration {
    chunking_configuration {
      chunking_strategy = "FIXED_SIZE"
      fixed_size_chunking_configuration {
        max_tokens         = 512
        overlap_percentage = 20
      }
    }
  }
}

# --- Knowledge-base sync -----------------------------------------------------------------------

# The knowledge base only knows what an ingestion job has read. Every object created or deleted
# under its prefixes in the threat-intel bucket (EventBridge notifications are on, data module)
# starts this state machine, which calls bedrock-agent:StartIngestionJob. A data source runs one
# job at a time: while one runs, the call is retried (ConflictException) until it can start, so a
# burst of uploads ends in a job that saw all of them. Ingestion is incremental.
locals {
  threat_intel_bucket = element(split(":", var.threat_intel_bucket_arn), 5)
}

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
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "ingestion" {
  name               = "${var.name_prefix}-kb-ingestion"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "ingestion" {
  statement {
    sid       = "StartIngestion"
    actions   = ["bedrock:StartIngestionJob"]
    resources = [aws_bedrockagent_knowledge_base.this.arn]
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

  statement {
    sid       = "UseAcsoKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "ingestion" {
  name   = "start-ingestion"
  role   = aws_iam_role.ingestion.id
  policy = data.aws_iam_policy_document.ingestion.json
}

resource "aws_cloudwatch_log_group" "ingestion" {
  name              = "/acso/${var.name_prefix}/kb-ingestion"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_sfn_state_machine" "ingestion" {
  name     = "${var.name_prefix}-kb-ingestion"
  role_arn = aws_iam_role.ingestion.arn

  definition = jsonencode({
    Comment = "Sync the threat-intel knowledge base after its S3 objects changed"
    StartAt = "StartIngestionJob"
    States = {
      StartIngestionJob = {
        Type     = "Task"
        Resource = "arn:aws:states:::aws-sdk:bedrockagent:startIngestionJob"
        Parameters = {
          KnowledgeBaseId = aws_bedrockagent_knowledge_base.this.id
          DataSourceId    = aws_bedrockagent_data_source.threat_intel.data_source_id
        }
        Retry = [
          { ErrorEquals = ["BedrockAgent.ConflictException"], IntervalSeconds = 60, MaxAttempts = 30, BackoffRate = 1.2, MaxDelaySeconds = 300 },
          { ErrorEquals = ["BedrockAgent.ThrottlingException", "BedrockAgent.InternalServerException"], IntervalSeconds = 10, MaxAttempts = 5, BackoffRate = 2 },
        ]
        End = true
      }
    }
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.ingestion.arn}:*"
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

resource "aws_cloudwatch_event_rule" "knowledge_changed" {
  name        = "${var.name_prefix}-knowledge-changed"
  description = "Threat-intel objects the knowledge base ingests were created or deleted: start an ingestion job"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created", "Object Deleted"]
    detail = {
      bucket = { name = [local.threat_intel_bucket] }
      object = { key = [for prefix in var.knowledge_prefixes : { prefix = prefix }] }
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
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "ingestion_trigger" {
  name               = "${var.name_prefix}-kb-ingestion-trigger"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "ingestion_trigger" {
  statement {
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.ingestion.arn]
  }
}

resource "aws_iam_role_policy" "ingestion_trigger" {
  name   = "start-ingestion"
  role   = aws_iam_role.ingestion_trigger.id
  policy = data.aws_iam_policy_document.ingestion_trigger.json
}

resource "aws_cloudwatch_event_target" "knowledge_changed" {
  rule      = aws_cloudwatch_event_rule.knowledge_changed.name
  target_id = "kb-ingestion"
  arn       = aws_sfn_state_machine.ingestion.arn
  role_arn  = aws_iam_role.ingestion_trigger.arn
}
