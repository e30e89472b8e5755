env                = "dev"
region             = "us-east-1"
availability_zones = ["us-east-1a", "us-east-1b"]

# dev trades availability and retention for cost.
single_nat_gateway  = true
deletion_protection = false
log_level           = "DEBUG"
log_retention_days  = 365
db_instance_class   = "db.t4g.micro"
min_capacity        = 1
max_capacity        = 3
interface_endpoints = ["sqs", "secretsmanager", "logs", "ecr.api", "ecr.dkr", "bedrock-runtime"]
monthly_budget_usd  = 500
