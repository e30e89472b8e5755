"""ACSO threat-hunter agent: threat hunting and triage: threat intel, Sigma hunts, alert verdicts."""

__version__ = "0.1.0"
