"""API Gateway Lambda authorizer: Cognito JWTs in, IAM policies out (REST TOKEN/REQUEST, WebSocket `$connect`)."""
