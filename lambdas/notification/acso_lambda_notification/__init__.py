"""SNS-triggered notifications: incident messages to Slack, email (SES) and signed webhooks."""
