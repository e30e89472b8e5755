"""ACSO supervisor agent."""
