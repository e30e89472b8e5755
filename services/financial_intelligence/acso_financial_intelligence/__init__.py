"""ACSO financial-intelligence agent."""
