"""ACSO service-orchestration agent."""
