"""Alert ingestion: recognise, validate and normalise alerts into one OCSF-aligned model.

Pure library (no web, no database). The supervisor's `POST /v1/alerts` calls
`normalize_payload(body)` and then deduplicates on `fingerprint(alert)` and correlates on
`correlation_keys(alert, cross_account=...)`; `alert.state` says whether the source still holds the
finding open (see `fingerprint.py` and each format's module for the rules).
"""

from acso_shared.alerts.common import ErrorCode
from acso_shared.alerts.fingerprint import correlatable_ip, correlation_keys, fingerprint, primary_principal
from acso_shared.alerts.models import (
    AlertState,
    GenericAlert,
    NormalizedAlert,
    Observable,
    ObservableType,
    Resource,
    ResourceType,
    Severity,
    SeverityId,
    SeverityLabel,
    SourceFormat,
)
from acso_shared.alerts.normalize import DEFAULT_MAX_ITEMS, normalize_payload

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "AlertState",
    "ErrorCode",
    "GenericAlert",
    "NormalizedAlert",
    "Observable",
    "ObservableType",
    "Resource",
    "ResourceType",
    "Severity",
    "SeverityId",
    "SeverityLabel",
    "SourceFormat",
    "correlatable_ip",
    "correlation_keys",
    "fingerprint",
    "normalize_payload",
    "primary_principal",
]
