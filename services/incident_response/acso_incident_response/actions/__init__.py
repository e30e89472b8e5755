"""Typed containment actions against the AWS APIs (EC2, IAM, WAFv2, S3)."""
