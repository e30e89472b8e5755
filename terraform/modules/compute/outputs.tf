output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "ecr_repository_names" {
  description = "ECR repository name of each agent (`make deploy` pushes to these)."
  value       = { for k, r in aws_ecr_repository.this : k => r.name }
}

output "ecr_repository_urls" {
  description = "ECR repository URL of each agent."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "ecr_repository_arns" {
  description = "ECR repository ARN of each agent."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}

output "service_names" {
  description = "ECS service name of each agent."
  value       = { for k, s in aws_ecs_service.this : k => s.name }
}

output "task_definition_arns" {
  description = "Task definition ARN of each agent."
  value       = { for k, t in aws_ecs_task_definition.this : k => t.arn }
}

output "container_environment_names" {
  description = "Names of the environment variables and secrets set on every agent container."
  value       = sort(concat(keys(local.container_environment), keys(local.container_secrets), ["ACSO_SERVICE_PORT"]))
}
