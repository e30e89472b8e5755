"""Observable validation and normalisation rules."""

from __future__ import annotations

import pytest

from acso_shared.alerts import ObservableType
from acso_shared.alerts.common import ItemError
from acso_shared.alerts.observables import MAX_OBSERVABLES, ObservableCollector, classify, normalise

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (ObservableType.IP, "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        (ObservableType.IP, "[2001:db8::2]", "2001:db8::2"),
        (ObservableType.IP, "256.1.1.1", None),
        (ObservableType.DOMAIN, "Evil.Example.COM.", "evil.example.com"),
        (ObservableType.DOMAIN, "198.51.100.1", None),
        (ObservableType.DOMAIN, "not a domain", None),
        (ObservableType.HASH_SHA256, "SHA-256:" + "AB" * 32, "ab" * 32),
        (ObservableType.HASH_MD5, "ab" * 20, None),
        (ObservableType.ACCESS_KEY_ID, "ASIAQXZJ4EXAMPLE1234", "ASIAQXZJ4EXAMPLE1234"),
        (ObservableType.ACCESS_KEY_ID, "akiaiosfodnn7example", None),
        (ObservableType.INSTANCE_ID, "i-0123456789abcdef0", "i-0123456789abcdef0"),
        (ObservableType.INSTANCE_ID, "i-XYZ", None),
        (
            ObservableType.PRINCIPAL,
            "arn:aws:sts::123456789012:assumed-role/web/i-0123456789abcdef0",
            "arn:aws:sts::123456789012:assumed-role/web/i-0123456789abcdef0",
        ),
        (ObservableType.PRINCIPAL, "CORP\\alice", None),
        (ObservableType.EMAIL, "Alice@Example.COM", "alice@example.com"),
        (ObservableType.URL, "https://evil.example.com/payload.sh", "https://evil.example.com/payload.sh"),
        (ObservableType.URL, "javascript:alert(1)", None),
    ],
)
def test_values_are_validated_and_normalised(kind, value, expected):
    assert normalise(kind, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.5", (ObservableType.IP, "203.0.113.5")),
        ("i-0123456789abcdef0", (ObservableType.INSTANCE_ID, "i-0123456789abcdef0")),
        ("AKIAIOSFODNN7EXAMPLE", (ObservableType.ACCESS_KEY_ID, "AKIAIOSFODNN7EXAMPLE")),
        (
            "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
            (ObservableType.HASH_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ),
        ("Host.Example.org", (ObservableType.DOMAIN, "host.example.org")),
        ("just words", None),
    ],
)
def test_untyped_values_are_classified_by_syntax(value, expected):
    assert classify(value) == expected


def test_duplicates_are_dropped_after_normalisation():
    collector = ObservableCollector()

    collector.add(ObservableType.DOMAIN, "EVIL.example.com", "a")
    collector.add(ObservableType.DOMAIN, "evil.example.com.", "b")

    assert [(o.value, o.name) for o in collector.result()] == [("evil.example.com", "a")]


def test_a_lenient_collector_skips_bad_values_and_a_strict_one_raises():
    ObservableCollector().add(ObservableType.IP, "999.1.1.1")

    with pytest.raises(ItemError, match="not a valid ip"):
        ObservableCollector(strict=True).add(ObservableType.IP, "999.1.1.1", "observables[0].value")


def test_observables_per_alert_are_capped():
    collector = ObservableCollector()

    for i in range(MAX_OBSERVABLES + 50):
        collector.add(ObservableType.IP, f"198.51.{i // 256}.{i % 256}")

    assert len(collector.result()) == MAX_OBSERVABLES
