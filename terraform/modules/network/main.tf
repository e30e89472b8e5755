data "aws_region" "current" {}

locals {
  nat_count = var.single_nat_gateway ? 1 : length(var.availability_zones)
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # interface endpoints with private DNS need both

  tags = merge({ Name = "${var.name_prefix}-vpc" }, var.tags)
}

# The default security group admits nothing, so nothing can fall back on it.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-default-deny" }, var.tags)
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-igw" }, var.tags)
}

resource "aws_subnet" "public" {
  count = length(var.availability_zones)

  vpc_id                  = aws_vpc.this.id
  cidr_block              = var.public_subnet_cidrs[count.index]
  availability_zone       = var.availability_zones[count.index]
  map_public_ip_on_launch = false # only the NAT gateways live here, with their own Elastic IPs

  tags = merge({ Name = "${var.name_prefix}-public-${var.availability_zones[count.index]}", Tier = "public" }, var.tags)
}

resource "aws_subnet" "private" {
  count = length(var.availability_zones)

  vpc_id            = aws_vpc.this.id
  cidr_block        = var.private_subnet_cidrs[count.index]
  availability_zone = var.availability_zones[count.index]

  tags = merge({ Name = "${var.name_prefix}-private-${var.availability_zones[count.index]}", Tier = "private" }, var.tags)
}

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"

  tags = merge({ Name = "${var.name_prefix}-nat-${count.index}" }, var.tags)

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge({ Name = "${var.name_prefix}-nat-${count.index}" }, var.tags)

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-public" }, var.tags)
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = length(var.availability_zones)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count = length(var.availability_zones)

  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-private-${var.availability_zones[count.index]}" }, var.tags)
}

resource "aws_route" "private_nat" {
  count = length(var.availability_zones)

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

resource "aws_route_table_association" "private" {
  count = length(var.availability_zones)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# --- Flow logs -------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/acso/${var.name_prefix}/vpc-flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = merge({ Name = "${var.name_prefix}-vpc-flow-logs" }, var.tags)
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.name_prefix}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn

  tags = merge({ Name = "${var.name_prefix}-vpc" }, var.tags)
}

# --- Security groups ---------------------------------------------------------------------------

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached by the modules that consume it (api, compute, lambdas, data, ai); checkov does not follow module outputs.
  name        = "${var.name_prefix}-alb"
  description = "Internal ALB: reached from the VPC (API Gateway VPC link NLB) only"
  vpc_id      = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-alb" }, var.tags)
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_vpc" {
  for_each = toset([for p in var.service_ports : tostring(p)])

  security_group_id = aws_security_group.alb.id
  description       = "Agent listener ${each.value} from inside the VPC"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "alb_to_ecs" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the agent containers"
  ip_protocol                  = "tcp"
  from_port                    = min(var.service_ports...)
  to_port                      = max(var.service_ports...)
  referenced_security_group_id = aws_security_group.ecs.id
}

resource "aws_security_group" "ecs" {
  #checkov:skip=CKV2_AWS_5:Attached by the modules that consume it (api, compute, lambdas, data, ai); checkov does not follow module outputs.
  name        = "${var.name_prefix}-ecs"
  description = "Agent tasks: service ports from the ALB and from each other"
  vpc_id      = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-ecs" }, var.tags)
}

resource "aws_vpc_security_group_ingress_rule" "ecs_from_alb" {
  security_group_id            = aws_security_group.ecs.id
  description                  = "Service ports from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = min(var.service_ports...)
  to_port                      = max(var.service_ports...)
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "ecs_from_ecs" {
  security_group_id            = aws_security_group.ecs.id
  description                  = "Agent-to-agent HTTP (readiness, direct queries)"
  ip_protocol                  = "tcp"
  from_port                    = min(var.service_ports...)
  to_port                      = max(var.service_ports...)
  referenced_security_group_id = aws_security_group.ecs.id
}

resource "aws_vpc_security_group_egress_rule" "ecs_https" {
  security_group_id = aws_security_group.ecs.id
  description       = "HTTPS to AWS APIs (endpoints and NAT) and to integrations (ITSM, chat, threat feeds)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "ecs_to_ecs" {
  security_group_id            = aws_security_group.ecs.id
  description                  = "Agent-to-agent HTTP"
  ip_protocol                  = "tcp"
  from_port                    = min(var.service_ports...)
  to_port                      = max(var.service_ports...)
  referenced_security_group_id = aws_security_group.ecs.id
}

# The supervisor's console proxies API calls to the other agents through the internal ALB's
# listeners (acso_supervisor.console, ACSO_CONSOLE_UPSTREAM_HOST).
resource "aws_vpc_security_group_egress_rule" "ecs_to_alb" {
  security_group_id            = aws_security_group.ecs.id
  description                  = "To the internal ALB's agent listeners (the console's API proxy)"
  ip_protocol                  = "tcp"
  from_port                    = min(var.service_ports...)
  to_port                      = max(var.service_ports...)
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "ecs_to_database" {
  security_group_id            = aws_security_group.ecs.id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_security_group" "lambda" {
  #checkov:skip=CKV2_AWS_5:Attached by the modules that consume it (api, compute, lambdas, data, ai); checkov does not follow module outputs.
  name        = "${var.name_prefix}-lambda"
  description = "ACSO Lambdas: HTTPS out, PostgreSQL out"
  vpc_id      = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-lambda" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "lambda_https" {
  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to AWS APIs and to notification webhooks"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "lambda_to_database" {
  security_group_id            = aws_security_group.lambda.id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_security_group" "database" {
  #checkov:skip=CKV2_AWS_5:Attached by the modules that consume it (api, compute, lambdas, data, ai); checkov does not follow module outputs.
  name        = "${var.name_prefix}-database"
  description = "PostgreSQL: from the agent tasks and Lambdas only"
  vpc_id      = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-database" }, var.tags)
}

resource "aws_vpc_security_group_ingress_rule" "database_from_ecs" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the agent tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.ecs.id
}

resource "aws_vpc_security_group_ingress_rule" "database_from_lambda" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the Lambdas"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.lambda.id
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name_prefix}-vpc-endpoints"
  description = "Interface VPC endpoints: HTTPS from inside the VPC"
  vpc_id      = aws_vpc.this.id

  tags = merge({ Name = "${var.name_prefix}-vpc-endpoints" }, var.tags)
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr
}

# --- VPC endpoints -----------------------------------------------------------------------------

resource "aws_vpc_endpoint" "gateway" {
  for_each = toset(["s3", "dynamodb"])

  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = merge({ Name = "${var.name_prefix}-${each.key}" }, var.tags)
}

resource "aws_vpc_endpoint" "interface" {
  for_each = toset(var.interface_endpoints)

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = merge({ Name = "${var.name_prefix}-${replace(each.key, ".", "-")}" }, var.tags)
}
