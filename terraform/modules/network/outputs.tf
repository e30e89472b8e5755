output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (tasks, load balancers, databases, Lambdas)."
  value       = aws_subnet.private[*].id
}

output "alb_security_group_id" {
  description = "Security group of the internal ALB."
  value       = aws_security_group.alb.id
}

output "ecs_security_group_id" {
  description = "Security group of the agent tasks."
  value       = aws_security_group.ecs.id
}

output "lambda_security_group_id" {
  description = "Security group of the VPC-attached Lambdas."
  value       = aws_security_group.lambda.id
}

output "database_security_group_id" {
  description = "Security group of the PostgreSQL databases."
  value       = aws_security_group.database.id
}

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways (allow-list them at integrations that filter by source IP)."
  value       = aws_eip.nat[*].public_ip
}
