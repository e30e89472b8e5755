"""Messages between agents: the envelope and the one SQS consumer."""
