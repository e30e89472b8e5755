"""ACSO incident-response agent."""
