output "function_names" {
  description = "Name of each function."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "function_arns" {
  description = "ARN of each function."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "authorizer_invoke_arn" {
  description = "Invoke ARN of the auth function (API Gateway authorizer URI)."
  value       = aws_lambda_function.this["auth"].invoke_arn
}

output "authorizer_function_name" {
  description = "Name of the auth function."
  value       = aws_lambda_function.this["auth"].function_name
}

output "dlq_name" {
  description = "Dead-letter queue of the asynchronous functions."
  value       = aws_sqs_queue.dlq.name
}
