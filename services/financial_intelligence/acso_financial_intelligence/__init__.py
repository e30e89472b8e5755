"""ACSO financial-intelligence agent: cost insight: anomalies, forecasts, waste and incident cost."""

__version__ = "0.1.0"
