variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "env" {
  description = "Environment name; the database secret is `acso-<env>/database`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.env))
    error_message = "env must be lower-case letters and digits."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts tables, buckets, the database and its secret."
  type        = string
}

variable "tables" {
  description = "DynamoDB tables by logical name: name suffix, keys and TTL attribute (null for none)."
  type = map(object({
    suffix    = string
    hash_key  = string
    range_key = optional(string)
    ttl       = optional(string)
  }))
  default = {
    agent_registry = { suffix = "agent-registry", hash_key = "agent" }
    agent_state    = { suffix = "agent-state", hash_key = "pk", range_key = "sk", ttl = "expires_at" }
    idempotency    = { suffix = "idempotency", hash_key = "idempotency_key", ttl = "expires_at" }
  }

  validation {
    condition     = alltrue([for t in values(var.tables) : can(regex("^[a-z0-9-]+$", t.suffix))])
    error_message = "Table suffixes must be lower-case kebab-case."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets of the database subnet group (two AZs)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "RDS Multi-AZ needs subnets in at least two availability zones."
  }
}

variable "database_security_group_id" {
  description = "Security group of the database."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition     = startswith(var.db_instance_class, "db.")
    error_message = "db_instance_class must be an RDS class such as db.t4g.medium."
  }
}

variable "db_engine_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "17"

  validation {
    condition     = contains(["16", "17"], var.db_engine_version)
    error_message = "Supported PostgreSQL majors are 16 and 17."
  }
}

variable "db_allocated_storage" {
  description = "Initial storage of the database, GiB (grows automatically up to 5x)."
  type        = number
  default     = 50

  validation {
    condition     = var.db_allocated_storage >= 20
    error_message = "RDS PostgreSQL needs at least 20 GiB."
  }
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "Keep between 7 and 35 days of backups."
  }
}

variable "db_read_replicas" {
  description = "Number of PostgreSQL read replicas (prod: 1)."
  type        = number
  default     = 0

  validation {
    condition     = var.db_read_replicas >= 0 && var.db_read_replicas <= 5
    error_message = "RDS PostgreSQL allows 0 to 5 read replicas here."
  }
}

variable "archive_tiering" {
  description = "Intelligent-Tiering archive configurations by name: bucket (artifacts only), key prefix and days. Archived objects are unreadable until restored, so only prefixes nothing reads on demand belong here."
  type = map(object({
    bucket            = string
    prefix            = string
    archive_days      = optional(number, 90)
    deep_archive_days = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for c in values(var.archive_tiering) : c.bucket == "artifacts" && length(c.prefix) > 0])
    error_message = "Archive tiers apply to a non-empty prefix of the artifacts bucket only: the threat-intel bucket is read by the knowledge base and the services."
  }
}

variable "artifact_noncurrent_days" {
  description = "Days before noncurrent artifact object versions expire."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "Protect tables, database and buckets from deletion (prod)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
