variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the guardrail, the vector store and its secret."
  type        = string
}

variable "bedrock_model_id" {
  description = "Model the agents converse with: a foundation model id or a cross-region inference profile id (us./eu./apac./global. prefix). Enable access to it in the Bedrock console first."
  type        = string
  default     = "us.anthropic.claude-sonnet-4-20250514-v1:0"

  validation {
    condition     = can(regex("^((us|eu|apac|global|us-gov)\\.)?[a-z0-9-]+\\.[a-zA-Z0-9.:-]+$", var.bedrock_model_id))
    error_message = "bedrock_model_id must be a Bedrock model id or inference profile id."
  }
}

variable "embedding_model_id" {
  description = "Embedding model of the knowledge base."
  type        = string
  default     = "amazon.titan-embed-text-v2:0"
}

variable "embedding_dimensions" {
  description = "Vector size the embedding model produces (Titan v2: 256, 512 or 1024)."
  type        = number
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024], var.embedding_dimensions)
    error_message = "Titan Text Embeddings v2 produces 256, 512 or 1024 dimensions."
  }
}

variable "threat_intel_bucket_arn" {
  description = "ARN of the threat-intel bucket the knowledge base ingests."
  type        = string
}

variable "knowledge_prefixes" {
  description = "Prefixes of the threat-intel bucket the knowledge base ingests."
  type        = list(string)
  default     = ["knowledge/"]
}

variable "private_subnet_ids" {
  description = "Private subnets of the vector store cluster."
  type        = list(string)
}

variable "database_security_group_id" {
  description = "Security group of the vector store cluster."
  type        = string
}

variable "vector_store_max_acu" {
  description = "Maximum Aurora Serverless v2 capacity of the vector store."
  type        = number
  default     = 4

  validation {
    condition     = var.vector_store_max_acu >= 1 && var.vector_store_max_acu <= 256
    error_message = "Aurora Serverless v2 allows 1 to 256 ACUs."
  }
}

variable "vector_engine_major_version" {
  description = "Aurora PostgreSQL major version of the vector store (the minor is AWS's default, then upgraded automatically)."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^[0-9]+$", var.vector_engine_major_version))
    error_message = "vector_engine_major_version is a major version only, such as 16: a minor pin breaks once AWS retires or upgrades past it."
  }
}

variable "log_retention_days" {
  description = "Retention of the ingestion state machine's log group, in days."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "Protect the vector store from deletion (prod)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
