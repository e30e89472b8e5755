env                = "prod"
region             = "us-east-1"
availability_zones = ["us-east-1a", "us-east-1b"]

single_nat_gateway  = false
deletion_protection = true
log_level           = "INFO"
log_retention_days  = 731
db_instance_class   = "db.m7g.large"
min_capacity        = 2
max_capacity        = 10
db_read_replicas    = 1
monthly_budget_usd  = 3000
