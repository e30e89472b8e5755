"""Canonical forms of indicator and observable values.

Both sides of a match go through the same functions, so equality on the canonical string is the
match: hosts and hex digests are case-insensitive, URL paths are not, IP addresses compare as
numbers (``::ffff:10.0.0.1`` is ``10.0.0.1``) and networks compare by containment.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from acso_shared.errors import Invalid

from .models import IndicatorType, ObservableType

HASH_LENGTHS: dict[int, IndicatorType] = {
    32: IndicatorType.MD5,
    40: IndicatorType.SHA1,
    64: IndicatorType.SHA256,
    128: IndicatorType.SHA512,
}
HASH_TYPES = frozenset(HASH_LENGTHS.values())
IP_TYPES = frozenset({IndicatorType.IPV4, IndicatorType.IPV6})

_HEX = re.compile(r"^[0-9a-f]+$")
# RFC 1123 labels; underscores appear in real malicious hostnames (SRV-style, DGA) so they are allowed.
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _unmap(addr: IpAddress) -> IpAddress:
    """Return the IPv4 address inside an IPv4-mapped IPv6 address, else the address itself."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def parse_ip(value: str) -> IpAddress:
    """Parse one IP address (IPv4-mapped IPv6 becomes IPv4); raise `Invalid` otherwise."""
    try:
        return _unmap(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError as err:
        raise Invalid("invalid_ip", f"not an IP address: {value!r}") from err


def parse_network(value: str) -> IpNetwork:
    """Parse an address or CIDR range; host bits set in a CIDR are an error, as in the STIX spec."""
    text = value.strip()
    if "/" not in text:
        addr = parse_ip(text)
        return ipaddress.ip_network(addr)
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as err:
        raise Invalid("invalid_ip", f"not an IP address or CIDR range: {value!r}") from err
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None and net.prefixlen >= 96:
        return ipaddress.ip_network(f"{net.network_address.ipv4_mapped}/{net.prefixlen - 96}")
    return net


def network_text(net: IpNetwork) -> str:
    """Canonical text of a network: a bare address for a single host, CIDR otherwise."""
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def normalize_domain(value: str) -> str:
    """Lower-case, IDNA (punycode) encode and strip the root dot; a leading ``*.`` is kept as a wildcard."""
    text = value.strip().rstrip(".").lower()
    wildcard = text.startswith("*.")
    if wildcard:
        text = text[2:]
    try:
        ascii_text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError as err:
        raise Invalid("invalid_domain", f"not a domain name: {value!r}") from err
    labels = ascii_text.split(".")
    if len(ascii_text) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise Invalid("invalid_domain", f"not a domain name: {value!r}")
    return f"*.{ascii_text}" if wildcard else ascii_text


def normalize_url(value: str) -> str:
    """Lower-case scheme and host, drop default ports and the fragment; path and query keep their case."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise Invalid("invalid_url", f"not a URL: {value!r}") from err
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        raise Invalid("invalid_url", f"not an absolute URL: {value!r}")
    host = url_host(parts.hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def url_host(hostname: str) -> str:
    """Canonical host of a URL: an IP address, a domain name, or a lower-cased intranet name."""
    try:
        return str(parse_ip(hostname))
    except Invalid:
        pass
    try:
        return normalize_domain(hostname)
    except Invalid:
        # Single-label hosts (`http://intranet/`) are valid in URLs though not as domain indicators.
        if _LABEL.match(hostname.lower()):
            return hostname.lower()
        raise


def normalize_hash(value: str, expected: IndicatorType | None = None) -> tuple[IndicatorType, str]:
    """Lower-case a hex digest and type it by length; raise `Invalid` when it is not one or the type disagrees."""
    text = value.strip().lower()
    kind = HASH_LENGTHS.get(len(text))
    if kind is None or not _HEX.match(text):
        raise Invalid("invalid_hash", f"not an MD5/SHA-1/SHA-256/SHA-512 hex digest: {value!r}")
    if expected is not None and kind is not expected:
        raise Invalid("invalid_hash", f"{value!r} is not a {expected.value} digest")
    return kind, text


def normalize_indicator(kind: IndicatorType, value: str) -> str:
    """Canonical text of an indicator value of a known type."""
    match kind:
        case IndicatorType.IPV4 | IndicatorType.IPV6:
            net = parse_network(value)
            actual = IndicatorType.IPV4 if net.version == 4 else IndicatorType.IPV6
            if actual is not kind:
                raise Invalid("invalid_ip", f"{value!r} is not an {kind.value} address")
            return network_text(net)
        case IndicatorType.DOMAIN:
            return normalize_domain(value)
        case IndicatorType.URL:
            return normalize_url(value)
        case _:
            return normalize_hash(value, kind)[1]


def infer_indicator(value: str) -> tuple[IndicatorType, str]:
    """Type and canonical text of an untyped value (plain feeds): IP/CIDR, URL, digest or domain."""
    text = value.strip()
    try:
        net = parse_network(text)
    except Invalid:
        pass
    else:
        return (IndicatorType.IPV4 if net.version == 4 else IndicatorType.IPV6), network_text(net)
    if "://" in text:
        return IndicatorType.URL, normalize_url(text)
    if len(text) in HASH_LENGTHS and _HEX.match(text.lower()):
        return normalize_hash(text)
    try:
        return IndicatorType.DOMAIN, normalize_domain(text)
    except Invalid as err:
        raise Invalid("invalid_indicator", f"not an IP, CIDR, URL, hash or domain: {value!r}") from err


def observable_candidates(kind: ObservableType | None, value: str) -> tuple[IndicatorType, str]:
    """Type and canonical text of an observable; `ip` and `hash` are resolved from the value itself."""
    if kind is None:
        itype, text = infer_indicator(value)
        if itype in IP_TYPES and "/" in text:
            raise Invalid("invalid_observable", f"an observable is one address, not a range: {value!r}")
        return itype, text
    match kind:
        case ObservableType.IP:
            addr = parse_ip(value)
            return (IndicatorType.IPV4 if addr.version == 4 else IndicatorType.IPV6), str(addr)
        case ObservableType.HASH:
            return normalize_hash(value)
        case _:
            itype = IndicatorType(kind.value)
            if itype in IP_TYPES:
                addr = parse_ip(value)
                actual = IndicatorType.IPV4 if addr.version == 4 else IndicatorType.IPV6
                return actual, str(addr)
            text = normalize_indicator(itype, value)
            if text.startswith("*."):
                raise Invalid("invalid_observable", f"an observable cannot be a wildcard: {value!r}")
            return itype, text
