"""Outbound URL allow-list: ACSO only calls the ITSM hosts an operator configured.

Base URLs come from configuration that admins edit through the API, so they are untrusted input
that could point ACSO's credentials at an internal address (request forgery against the
instance metadata service, the VPC or localhost). The rules are deliberately narrow:
https only; no user-info; no IP literals in any notation; no explicit port unless allowed; no
query or fragment; the host must match an allow-list pattern. Redirects are not followed by
the HTTP client either, so a validated host cannot bounce a request elsewhere.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Final

from yarl import URL

from acso_service_orchestration.itsm.models import IntegrationConfig, ItsmSystem
from acso_shared.errors import Invalid

DEFAULT_HOST_PATTERNS: Final[dict[ItsmSystem, tuple[str, ...]]] = {
    ItsmSystem.SERVICENOW: ("*.service-now.com", "*.servicenowservices.com"),
    ItsmSystem.JIRA: ("*.atlassian.net", "*.jira.com"),
    # A generic webhook has no natural domain: the operator must name one.
    ItsmSystem.WEBHOOK: (),
}

LOOPBACK_HOSTS: Final[frozenset[str]] = frozenset({"127.0.0.1", "localhost", "::1"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class UrlPolicy:
    """What an outbound ITSM URL may look like."""

    host_patterns: tuple[str, ...]
    allow_loopback_http: bool = False
    allowed_ports: frozenset[int] = field(default_factory=frozenset)
    allow_path: bool = False

    @classmethod
    def for_config(cls, config: IntegrationConfig) -> UrlPolicy:
        """The policy of one integration: its own patterns, else its system's defaults."""
        return cls(
            host_patterns=config.allowed_host_patterns or DEFAULT_HOST_PATTERNS[config.system],
            allow_loopback_http=config.allow_loopback_http,
            allowed_ports=frozenset(config.allowed_ports),
            allow_path=config.system is ItsmSystem.WEBHOOK,
        )


def _reject(url: str, why: str) -> Invalid:
    return Invalid("itsm_url_not_allowed", f"{why}: {url!r}")


def _looks_numeric(host: str) -> bool:
    """True for hosts that resolvers read as IPv4 (127.1, 0x7f.0.0.1, 2130706433, 0177.0.0.1)."""
    # No public TLD is numeric, so a numeric last label is always an address in disguise.
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return bool(re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", last))


def host_matches(host: str, pattern: str) -> bool:
    """Whether `host` matches `pattern`: an exact name, or `*.domain` for one label under domain."""
    pattern = pattern.lower()
    if pattern.startswith("*."):
        suffix = pattern[1:]
        if not host.endswith(suffix):
            return False
        label = host[: -len(suffix)]
        # One label only: `*.atlassian.net` admits `acme.atlassian.net`, not `a.b.atlassian.net`.
        return bool(_LABEL.fullmatch(label))
    return host == pattern


def validate_url(url: str, policy: UrlPolicy) -> URL:
    """Parse and check an outbound URL against the policy.

    Returns the normalised URL (no trailing slash). Raises `Invalid("itsm_url_not_allowed")`.
    """
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError) as err:
        raise _reject(url, "not a URL") from err
    if not parsed.is_absolute() or not parsed.raw_host:
        raise _reject(url, "not an absolute URL")
    if parsed.raw_user is not None or parsed.raw_password is not None or "@" in parsed.raw_authority:
        raise _reject(url, "user-info is not allowed in an ITSM URL")
    if parsed.query_string or parsed.fragment:
        raise _reject(url, "query and fragment are not allowed")
    host = parsed.raw_host.lower()
    if host.endswith("."):
        raise _reject(url, "a trailing-dot host name is not allowed")
    loopback = policy.allow_loopback_http and host in LOOPBACK_HOSTS
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise _reject(url, "only https is allowed")
    if not loopback:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            pass
        else:
            raise _reject(url, "IP literals are not allowed")
        if _looks_numeric(host):
            raise _reject(url, "numeric host names are not allowed")
        if not any(host_matches(host, pattern) for pattern in policy.host_patterns):
            raise _reject(url, "host is not on the ITSM allow-list")
        if parsed.explicit_port is not None and parsed.explicit_port not in policy.allowed_ports | {443}:
            raise _reject(url, "non-default port")
    if not policy.allow_path and parsed.path not in ("", "/"):
        raise _reject(url, "an instance base URL has no path")
    normalised = parsed.with_path(parsed.path.rstrip("/") or "")
    return normalised
