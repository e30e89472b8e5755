"""Inbound webhook authentication helpers shared by the adapters.

The ACSO scheme (`X-ACSO-Signature: t=<unix>,v1=<hex>`, five-minute window, replay claim) is
implemented once in `acso_shared.auth.webhooks`; this module only adapts it to the adapters'
header mappings and names each ITSM as its own integration for the replay keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from acso_service_orchestration.itsm.models import ItsmSystem
from acso_shared.auth.webhooks import SIGNATURE_HEADER, WebhookVerifier

__all__ = ["SIGNATURE_HEADER", "header_value", "verify_acso_signature"]


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name from any mapping (aiohttp's CIMultiDict or a plain dict)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


async def verify_acso_signature(
    verifier: WebhookVerifier,
    system: ItsmSystem,
    headers: Mapping[str, str],
    body: bytes,
    secrets: tuple[SecretStr, ...],
) -> None:
    """Accept a delivery signed with the ACSO scheme exactly once, or raise `Unauthorized`."""
    await verifier.verify(
        f"itsm-{system}",
        header_value(headers, SIGNATURE_HEADER),
        body,
        [s.get_secret_value() for s in secrets],
    )
