"""CloudTrail and VPC flow log objects from S3 through the hunting rules, hits to the supervisor."""
