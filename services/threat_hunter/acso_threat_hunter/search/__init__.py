"""Knowledge-base search over intel documents and runbooks: Bedrock Knowledge Base, or PostgreSQL full text."""
