"""ACSO supervisor agent: ingestion, workflows, the agent directory and the DLQ console."""

__version__ = "0.1.0"
