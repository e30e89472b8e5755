"""ACSO incident-response agent: incidents, playbooks, containment actions and approvals."""

__version__ = "0.1.0"
