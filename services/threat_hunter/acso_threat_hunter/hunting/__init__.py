"""Sigma hunting: user and built-in rules, hunts over CloudTrail logs, hits into the main alert flow."""
