"""ACSO service-orchestration agent: ITSM tickets, SSM operations and change control."""

__version__ = "0.1.0"
