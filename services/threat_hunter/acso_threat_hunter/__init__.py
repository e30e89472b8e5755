"""ACSO threat-hunter agent."""
