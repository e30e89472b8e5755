"""Specification of signed webhooks: valid once, replayed/tampered/stale never."""

from __future__ import annotations

import pytest

from acso_shared.auth.models import AuthMethod, PrincipalKind
from acso_shared.auth.webhooks import WebhookVerifier, parse_signature_header, sign
from acso_shared.errors import Unauthorized, Unavailable

pytestmark = pytest.mark.unit

NOW = 1_800_000_000
SECRET = "whsec_current_0123456789"
OLD_SECRET = "whsec_previous_9876543210"
BODY = b'{"ticket":"INC0012345","state":"resolved"}'


class ClaimStore:
    """Behaves like a conditional put on the idempotency table: first claim wins."""

    def __init__(self) -> None:
        self.claims: dict[str, int] = {}

    async def __call__(self, key: str, expires_at: int) -> bool:
        if key in self.claims:
            return False
        self.claims[key] = expires_at
        return True


@pytest.fixture
def store() -> ClaimStore:
    return ClaimStore()


@pytest.fixture
def verifier(store: ClaimStore) -> WebhookVerifier:
    return WebhookVerifier(store, clock=lambda: float(NOW))


async def _code(verifier: WebhookVerifier, header: str | None, body: bytes = BODY) -> str:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify("servicenow", header, body, [SECRET])
    return caught.value.code


async def test_a_validly_signed_delivery_is_accepted_as_the_integration(verifier: WebhookVerifier) -> None:
    principal = await verifier.verify("servicenow", sign(BODY, SECRET, timestamp=NOW), BODY, [SECRET])

    assert principal.subject == "webhook:servicenow"
    assert principal.kind is PrincipalKind.MACHINE
    assert principal.auth_method is AuthMethod.WEBHOOK_HMAC
    assert principal.scopes == frozenset({"acso/webhooks.write"})


async def test_a_valid_delivery_is_accepted_exactly_once(verifier: WebhookVerifier) -> None:
    header = sign(BODY, SECRET, timestamp=NOW)
    await verifier.verify("servicenow", header, BODY, [SECRET])

    assert await _code(verifier, header) == "signature_replayed"


async def test_a_replay_carrying_only_one_of_two_signatures_is_still_a_replay(verifier: WebhookVerifier) -> None:
    both = sign(BODY, SECRET, timestamp=NOW) + "," + sign(BODY, OLD_SECRET, timestamp=NOW).split(",")[1]
    await verifier.verify("servicenow", both, BODY, [SECRET])

    assert await _code(verifier, sign(BODY, SECRET, timestamp=NOW)) == "signature_replayed"


async def test_a_tampered_body_is_rejected(verifier: WebhookVerifier) -> None:
    header = sign(BODY, SECRET, timestamp=NOW)

    assert await _code(verifier, header, BODY.replace(b"resolved", b"closed")) == "signature_invalid"


async def test_a_tampered_timestamp_is_rejected(verifier: WebhookVerifier) -> None:
    signature = sign(BODY, SECRET, timestamp=NOW - 10).split(",")[1]

    assert await _code(verifier, f"t={NOW},{signature}") == "signature_invalid"


async def test_a_delivery_signed_with_another_secret_is_rejected(verifier: WebhookVerifier) -> None:
    assert await _code(verifier, sign(BODY, "not-the-secret", timestamp=NOW)) == "signature_invalid"


async def test_a_rejected_delivery_claims_nothing(verifier: WebhookVerifier, store: ClaimStore) -> None:
    await _code(verifier, sign(BODY, "not-the-secret", timestamp=NOW))

    assert store.claims == {}


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
async def test_a_timestamp_outside_the_five_minute_window_is_expired(verifier: WebhookVerifier, offset: int) -> None:
    assert await _code(verifier, sign(BODY, SECRET, timestamp=NOW + offset)) == "signature_expired"


@pytest.mark.parametrize("offset", [-300, 300])
async def test_a_timestamp_at_the_edge_of_the_window_is_accepted(verifier: WebhookVerifier, offset: int) -> None:
    principal = await verifier.verify("servicenow", sign(BODY, SECRET, timestamp=NOW + offset), BODY, [SECRET])

    assert principal.client_id == "servicenow"


async def test_the_claim_outlives_the_replay_window(verifier: WebhookVerifier, store: ClaimStore) -> None:
    await verifier.verify("servicenow", sign(BODY, SECRET, timestamp=NOW), BODY, [SECRET])

    assert list(store.claims.values()) == [NOW + 301]


async def test_during_rotation_either_configured_secret_is_accepted(verifier: WebhookVerifier) -> None:
    header = sign(BODY, OLD_SECRET, timestamp=NOW)

    principal = await verifier.verify("servicenow", header, BODY, [SECRET, OLD_SECRET])

    assert principal.subject == "webhook:servicenow"


async def test_the_same_delivery_to_two_integrations_is_claimed_separately(verifier: WebhookVerifier) -> None:
    await verifier.verify("servicenow", sign(BODY, SECRET, timestamp=NOW), BODY, [SECRET])

    principal = await verifier.verify("jira", sign(BODY, SECRET, timestamp=NOW), BODY, [SECRET])

    assert principal.subject == "webhook:jira"


@pytest.mark.parametrize("header", [None, "", "   "])
async def test_a_missing_signature_header_is_signature_missing(verifier: WebhookVerifier, header: str | None) -> None:
    assert await _code(verifier, header) == "signature_missing"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"t={NOW}",
        "v1=abcd",
        f"t=-{NOW},v1=abcd",
        f"t={NOW},t={NOW},v1=abcd",
        "t=1e9,v1=abcd",
        f"t={NOW}," + ",".join(["v1=ab"] * 5),
        f"t={NOW},v1=" + "a" * 2000,
    ],
)
async def test_a_malformed_signature_header_is_signature_invalid(verifier: WebhookVerifier, header: str) -> None:
    assert await _code(verifier, header) == "signature_invalid"


async def test_an_integration_without_a_secret_is_unavailable_not_open(verifier: WebhookVerifier) -> None:
    with pytest.raises(Unavailable):
        await verifier.verify("servicenow", sign(BODY, SECRET, timestamp=NOW), BODY, [])


def test_unknown_signature_schemes_are_ignored_for_forward_compatibility() -> None:
    parsed = parse_signature_header(f"t={NOW},v0=old,v1=ABCD")

    assert parsed.signatures == ("abcd",)
    assert parsed.timestamp == NOW
