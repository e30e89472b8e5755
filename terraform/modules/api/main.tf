data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  kebab       = { for k, _ in var.agents : k => replace(k, "_", "-") }
  https       = var.certificate_arn != null
  public_port = var.agents[var.public_agent].port
  link_origin = "${local.https ? "https" : "http"}://${aws_lb.link.dns_name}:${local.public_port}"
  # The stage's URL, built from the REST API's id rather than read from the stage: the Cognito app
  # client's callback URLs need it, and the stage waits for the authorizer, which reads the client.
  console_url = "https://${aws_api_gateway_rest_api.this.id}.execute-api.${data.aws_region.current.region}.${data.aws_partition.current.dns_suffix}/${var.stage_name}/"
  # HTTP methods of the console's routes under /console/ (acso_supervisor.console.routes): assets
  # and session config (GET), login and refresh (POST), and its API proxy (GET, POST, PATCH).
  console_methods = toset(["GET", "POST", "PATCH"])
  access_log_format = jsonencode({
    requestId    = "$context.requestId"
    ip           = "$context.identity.sourceIp"
    requestTime  = "$context.requestTime"
    httpMethod   = "$context.httpMethod"
    routeKey     = "$context.routeKey"
    resourcePath = "$context.resourcePath"
    status       = "$context.status"
    latency      = "$context.responseLatency"
    principal    = "$context.authorizer.principalId"
    error        = "$context.error.message"
    xrayTraceId  = "$context.xrayTraceId"
  })
}

# --- Internal ALB: one listener per agent port ------------------------------------------------

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:The ALB is internal; the WAF web ACL protects the public REST API in front of it.
  name                       = "${var.name_prefix}-alb"
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = [var.alb_security_group_id]
  subnets                    = var.private_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  # var.access_logs_bucket is the data module's output taken from the bucket policy, so the ALB
  # is created only once ELB may write there (it test-writes on creation: "Access Denied").
  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = "alb"
    enabled = true
  }

  tags = merge({ Name = "${var.name_prefix}-alb" }, var.tags)
}

resource "aws_lb_target_group" "agent" {
  for_each = var.agents

  name                 = substr("${var.name_prefix}-${local.kebab[each.key]}", 0, 32)
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip" # awsvpc tasks register by IP
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = merge({ Name = "${var.name_prefix}-${local.kebab[each.key]}", Agent = each.key }, var.tags)
}

resource "aws_lb_listener" "agent" {
  #checkov:skip=CKV_AWS_2:Without certificate_arn the internal ALB serves plain HTTP inside the VPC only; clients reach it through API Gateway over TLS. Set certificate_arn for HTTPS end to end.
  #checkov:skip=CKV_AWS_103:Same as CKV_AWS_2: the TLS policy applies when certificate_arn is set.
  for_each = var.agents

  load_balancer_arn = aws_lb.this.arn
  port              = each.value.port
  protocol          = local.https ? "HTTPS" : "HTTP"
  certificate_arn   = var.certificate_arn
  ssl_policy        = local.https ? "ELBSecurityPolicy-TLS13-1-2-2021-06" : null

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.agent[each.key].arn
  }

  tags = var.tags
}

# --- NLB for the API Gateway VPC link (REST and WebSocket private integrations need an NLB) -----

resource "aws_lb" "link" {
  #checkov:skip=CKV_AWS_91:NLB access logs only cover TLS listeners; this TCP pass-through is logged at the ALB behind it.
  name                             = "${var.name_prefix}-link"
  internal                         = true
  load_balancer_type               = "network"
  subnets                          = var.private_subnet_ids
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.deletion_protection

  tags = merge({ Name = "${var.name_prefix}-link" }, var.tags)
}

resource "aws_lb_target_group" "link" {
  name        = "${var.name_prefix}-link"
  port        = local.public_port
  protocol    = "TCP"
  target_type = "alb"
  vpc_id      = var.vpc_id

  health_check {
    protocol = local.https ? "HTTPS" : "HTTP"
    path     = "/healthz"
    port     = tostring(local.public_port)
  }

  tags = var.tags
}

resource "aws_lb_target_group_attachment" "link" {
  target_group_arn = aws_lb_target_group.link.arn
  target_id        = aws_lb.this.arn
  port             = local.public_port

  depends_on = [aws_lb_listener.agent]
}

resource "aws_lb_listener" "link" {
  load_balancer_arn = aws_lb.link.arn
  port              = local.public_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.link.arn
  }

  tags = var.tags
}

resource "aws_api_gateway_vpc_link" "this" {
  name        = "${var.name_prefix}-link"
  target_arns = [aws_lb.link.arn]

  tags = var.tags
}

# --- Account-wide API Gateway logging role -----------------------------------------------------

data "aws_iam_policy_document" "apigw_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigw_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${var.name_prefix}-apigw-logs"
  assume_role_policy = data.aws_iam_policy_document.apigw_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "apigw_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.apigw_logs[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigw_logs[0].arn

  depends_on = [aws_iam_role_policy_attachment.apigw_logs]
}

# --- REST API ----------------------------------------------------------------------------------

resource "aws_api_gateway_rest_api" "this" {
  name        = "${var.name_prefix}-api"
  description = "ACSO public API: Cognito-authorised proxy to the ${var.public_agent}"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_request_validator" "this" {
  name                        = "parameters"
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  validate_request_parameters = true
  validate_request_body       = false # bodies are validated by the service against its OpenAPI schemas
}

# The authorizer's policy is cached per Authorization header for the TTL and applies to every route
# the token calls. So it answers Allow for the whole stage to any verified token and leaves the
# route-level decision (403 with a reason, 404) to the services, which check the same token and
# permission matrix; only an unverifiable token gets a Deny, and that token stays unusable anyway.
resource "aws_api_gateway_authorizer" "this" {
  name                             = "${var.name_prefix}-auth"
  rest_api_id                      = aws_api_gateway_rest_api.this.id
  type                             = "REQUEST"
  authorizer_uri                   = var.authorizer_invoke_arn
  identity_source                  = "method.request.header.Authorization"
  authorizer_result_ttl_in_seconds = var.authorizer_cache_ttl_seconds
}

resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_method" "proxy" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.proxy.id
  http_method          = "ANY"
  authorization        = "CUSTOM"
  authorizer_id        = aws_api_gateway_authorizer.this.id
  request_validator_id = aws_api_gateway_request_validator.this.id

  request_parameters = {
    "method.request.path.proxy" = true
  }
}

resource "aws_api_gateway_integration" "proxy" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.proxy.id
  http_method             = aws_api_gateway_method.proxy.http_method
  type                    = "HTTP_PROXY"
  integration_http_method = "ANY"
  connection_type         = "VPC_LINK"
  connection_id           = aws_api_gateway_vpc_link.this.id
  uri                     = "${local.https ? "https" : "http"}://${aws_lb.link.dns_name}:${local.public_port}/{proxy}"

  request_parameters = {
    "integration.request.path.proxy" = "method.request.path.proxy"
  }
}

# CORS preflights carry no Authorization header (browsers never send credentials on OPTIONS), so
# they must not go through the authorizer; the services answer them (ACSO_CORS_ALLOW_ORIGINS).
resource "aws_api_gateway_method" "proxy_options" {
  #checkov:skip=CKV_AWS_59:OPTIONS is the CORS preflight: browsers send it without credentials, and the service answers it with CORS headers only.
  #checkov:skip=CKV2_AWS_53:The preflight has no body or parameters to validate beyond the path.
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_resource.proxy.id
  http_method   = "OPTIONS"
  authorization = "NONE"

  request_parameters = {
    "method.request.path.proxy" = true
  }
}

resource "aws_api_gateway_integration" "proxy_options" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.proxy.id
  http_method             = aws_api_gateway_method.proxy_options.http_method
  type                    = "HTTP_PROXY"
  integration_http_method = "OPTIONS"
  connection_type         = "VPC_LINK"
  connection_id           = aws_api_gateway_vpc_link.this.id
  uri                     = "${local.https ? "https" : "http"}://${aws_lb.link.dns_name}:${local.public_port}/{proxy}"

  request_parameters = {
    "integration.request.path.proxy" = "method.request.path.proxy"
  }
}

# The web console (acso_supervisor.console) is a page the browser loads before it holds a token, so
# its routes cannot sit behind the authorizer: GET / (the page) and /console/{proxy+} (its assets,
# the login and token-refresh endpoints, and its same-origin proxy). Only these are public here;
# every /v1/* path keeps the authorizer above. The proxy forwards only calls that carry a bearer
# token, and the agent behind it verifies and authorizes that token as for any other caller.
resource "aws_api_gateway_method" "console_index" {
  #checkov:skip=CKV_AWS_59:The console's page: a browser loads it before it has a token; it holds no data (the supervisor serves it to anyone).
  #checkov:skip=CKV2_AWS_53:GET / takes no parameters or body.
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_rest_api.this.root_resource_id
  http_method   = "GET"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "console_index" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_rest_api.this.root_resource_id
  http_method             = aws_api_gateway_method.console_index.http_method
  type                    = "HTTP_PROXY"
  integration_http_method = "GET"
  connection_type         = "VPC_LINK"
  connection_id           = aws_api_gateway_vpc_link.this.id
  uri                     = "${local.link_origin}/"
}

resource "aws_api_gateway_resource" "console" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "console"
}

resource "aws_api_gateway_resource" "console_proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.console.id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_method" "console_proxy" {
  #checkov:skip=CKV_AWS_59:The console's assets and login endpoints are loaded before the user has a token; its API proxy forwards the caller's token and the agents verify it.
  for_each = local.console_methods

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.console_proxy.id
  http_method          = each.key
  authorization        = "NONE"
  request_validator_id = aws_api_gateway_request_validator.this.id

  request_parameters = {
    "method.request.path.proxy" = true
  }
}

resource "aws_api_gateway_integration" "console_proxy" {
  for_each = aws_api_gateway_method.console_proxy

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.console_proxy.id
  http_method             = each.value.http_method
  type                    = "HTTP_PROXY"
  integration_http_method = each.value.http_method
  connection_type         = "VPC_LINK"
  connection_id           = aws_api_gateway_vpc_link.this.id
  uri                     = "${local.link_origin}/console/{proxy}"

  request_parameters = {
    "integration.request.path.proxy" = "method.request.path.proxy"
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy.id,
      aws_api_gateway_method.proxy.id,
      aws_api_gateway_integration.proxy.id,
      aws_api_gateway_authorizer.this.id,
      aws_api_gateway_authorizer.this.authorizer_result_ttl_in_seconds,
      aws_api_gateway_method.proxy_options.id,
      aws_api_gateway_integration.proxy_options.id,
      aws_api_gateway_method.console_index.id,
      aws_api_gateway_integration.console_index.id,
      aws_api_gateway_resource.console.id,
      aws_api_gateway_resource.console_proxy.id,
      [for m in aws_api_gateway_method.console_proxy : m.id],
      [for i in aws_api_gateway_integration.console_proxy : i.id],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "rest_access" {
  name              = "/acso/${var.name_prefix}/api-gateway/rest"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses are per-user and authorisation-dependent; caching them would leak across callers.
  #checkov:skip=CKV2_AWS_51:Clients authenticate with Cognito tokens checked by the authorizer, not with TLS client certificates.
  #checkov:skip=CKV2_AWS_77:Checkov does not follow the web ACL across modules; the security module's ACL includes AWSManagedRulesKnownBadInputsRuleSet (Log4j).
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.rest_access.arn
    format          = local.access_log_format
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Responses are per-user and authorisation-dependent; caching them would leak across callers.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "INFO"
    data_trace_enabled     = false # bodies carry alert content and tokens: never log them
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
    caching_enabled        = false
    cache_data_encrypted   = true
  }
}

resource "aws_wafv2_web_acl_association" "rest" {
  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.web_acl_arn
}

resource "aws_lambda_permission" "rest_authorizer" {
  statement_id  = "AllowRestApiAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.this.id}"
}

# --- WebSocket API -----------------------------------------------------------------------------

resource "aws_apigatewayv2_api" "ws" {
  name                       = "${var.name_prefix}-ws"
  description                = "ACSO live workflow updates"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"

  tags = var.tags
}

resource "aws_apigatewayv2_authorizer" "ws" {
  name             = "${var.name_prefix}-ws-auth"
  api_id           = aws_apigatewayv2_api.ws.id
  authorizer_type  = "REQUEST"
  authorizer_uri   = var.authorizer_invoke_arn
  identity_sources = ["route.request.querystring.token"] # browsers cannot set headers on WebSocket upgrades
}

# API Gateway signs nothing it sends to an integration, and the VPC link's NLB also carries the
# REST API (whose callers could otherwise forge the X-Principal-* headers). So every WebSocket
# integration request carries this secret as a static header; the supervisor answers 401 without
# it (acso_supervisor.ws_gateway). ECS gives it to the supervisor as ACSO_WS_GATEWAY_SECRET.
resource "random_password" "ws_gateway" {
  length  = 48
  special = false # the value is quoted into a static header mapping
}

resource "aws_secretsmanager_secret" "ws_gateway" {
  #checkov:skip=CKV2_AWS_57:The value is also a static header of the API Gateway integrations; rotate both at once by replacing random_password.ws_gateway (terraform apply -replace).
  name                    = "${var.name_prefix}/ws-gateway"
  description             = "Shared secret API Gateway's WebSocket integrations send to the ${var.public_agent} (X-ACSO-Gateway-Secret)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.deletion_protection ? 30 : 0

  tags = merge({ Name = "${var.name_prefix}/ws-gateway" }, var.tags)
}

resource "aws_secretsmanager_secret_version" "ws_gateway" {
  secret_id     = aws_secretsmanager_secret.ws_gateway.id
  secret_string = random_password.ws_gateway.result
}

resource "aws_apigatewayv2_integration" "ws" {
  for_each = {
    "$connect"    = "/v1/ws/connect"
    "$disconnect" = "/v1/ws/disconnect"
    "$default"    = "/v1/ws/message"
  }

  api_id             = aws_apigatewayv2_api.ws.id
  integration_type   = "HTTP_PROXY"
  integration_method = "POST"
  connection_type    = "VPC_LINK"
  connection_id      = aws_api_gateway_vpc_link.this.id
  integration_uri    = "${local.https ? "https" : "http"}://${aws_lb.link.dns_name}:${local.public_port}${each.value}"

  # The service learns which connection a message belongs to, and who holds it (the auth Lambda's
  # context: sub, kind, groups, scopes, client id, username), from these headers.
  request_parameters = {
    "integration.request.header.X-ACSO-Gateway-Secret" = "'${random_password.ws_gateway.result}'"
    "integration.request.header.X-Connection-Id"       = "context.connectionId"
    "integration.request.header.X-Principal-Id"        = "context.authorizer.principalId"
    "integration.request.header.X-Principal-Kind"      = "context.authorizer.kind"
    "integration.request.header.X-Principal-Groups"    = "context.authorizer.groups"
    "integration.request.header.X-Principal-Scopes"    = "context.authorizer.scopes"
    "integration.request.header.X-Principal-Client-Id" = "context.authorizer.client_id"
    "integration.request.header.X-Principal-Username"  = "context.authorizer.username"
  }
}

resource "aws_apigatewayv2_route" "ws" {
  #checkov:skip=CKV_AWS_309:WebSocket APIs authorise on $connect only; $default and $disconnect run on that authorised connection.
  for_each = aws_apigatewayv2_integration.ws

  api_id             = aws_apigatewayv2_api.ws.id
  route_key          = each.key
  target             = "integrations/${each.value.id}"
  authorization_type = each.key == "$connect" ? "CUSTOM" : "NONE" # WebSocket authorizers run on $connect only
  authorizer_id      = each.key == "$connect" ? aws_apigatewayv2_authorizer.ws.id : null
}

resource "aws_cloudwatch_log_group" "ws_access" {
  name              = "/acso/${var.name_prefix}/api-gateway/ws"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "ws" {
  #checkov:skip=CKV2_AWS_51:Clients authenticate with Cognito tokens checked by the authorizer on $connect, not with TLS client certificates.
  api_id      = aws_apigatewayv2_api.ws.id
  name        = var.stage_name
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.ws_access.arn
    format          = local.access_log_format
  }

  default_route_settings {
    logging_level            = "INFO"
    data_trace_enabled       = false
    detailed_metrics_enabled = true
    throttling_rate_limit    = var.throttle_rate_limit
    throttling_burst_limit   = var.throttle_burst_limit
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this, aws_apigatewayv2_route.ws]
}

resource "aws_lambda_permission" "ws_authorizer" {
  statement_id  = "AllowWebSocketAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.ws.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.ws.id}"
}
