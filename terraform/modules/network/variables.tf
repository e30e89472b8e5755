variable "name_prefix" {
  description = "Prefix of every resource name, `acso-<env>`."
  type        = string

  validation {
    condition     = can(regex("^acso-[a-z0-9]+$", var.name_prefix))
    error_message = "name_prefix must look like acso-<env> (lower-case letters and digits)."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "availability_zones" {
  description = "The two availability zones the subnets span."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "Exactly two availability zones are required."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets (NAT gateways), one per availability zone."
  type        = list(string)
  default     = ["10.0.101.0/24", "10.0.102.0/24"]

  validation {
    condition     = length(var.public_subnet_cidrs) == 2 && alltrue([for c in var.public_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Two valid IPv4 CIDR blocks are required."
  }
}

variable "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets (ECS tasks, load balancers, databases, Lambdas), one per availability zone."
  type        = list(string)
  default     = ["10.0.1.0/24", "10.0.2.0/24"]

  validation {
    condition     = length(var.private_subnet_cidrs) == 2 && alltrue([for c in var.private_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Two valid IPv4 CIDR blocks are required."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both zones (cheaper, for dev) instead of one per zone."
  type        = bool
  default     = false
}

variable "service_ports" {
  description = "Container ports of the agent services; the ECS security group admits them from the load balancer."
  type        = list(number)

  validation {
    condition     = alltrue([for p in var.service_ports : p >= 1024 && p <= 65535])
    error_message = "Service ports must be unprivileged (1024-65535)."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints (the service name suffix, e.g. `sqs`)."
  type        = list(string)
  default = [
    "sqs", "sns", "events", "secretsmanager", "kms", "logs", "monitoring", "ecr.api", "ecr.dkr",
    "bedrock-runtime", "bedrock-agent-runtime", "xray", "sts", "ssm",
  ]

  # With private DNS, an execute-api endpoint answers every *.execute-api.<region> name inside the
  # VPC but serves private APIs only: the supervisor's calls to the public WebSocket API's
  # @connections endpoint (ACSO_WS_MANAGEMENT_ENDPOINT) would get 403.
  validation {
    condition     = !contains(var.interface_endpoints, "execute-api")
    error_message = "interface_endpoints must not include execute-api: its private DNS would cut the supervisor off the public WebSocket API's @connections endpoint."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the VPC flow log group."
  type        = string
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch Logs retention value."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
