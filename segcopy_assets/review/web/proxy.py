"""Requests through a reverse proxy: which peers are trusted proxies, and what a trusted proxy
says about the browser (its address in ``X-Forwarded-For``, HTTPS in ``X-Forwarded-Proto``).

Only a trusted proxy is believed: from any other peer these headers are ignored. (uvicorn's own
proxy-header handling is off, so ``scope["client"]`` is always the TCP peer.)
"""

import ipaddress

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(text: str) -> tuple[IPNetwork, ...]:
    """``10.0.0.5,127.0.0.1,10.1.0.0/16`` → networks (raises ValueError on a bad entry)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def is_trusted(address: str, proxies: tuple[IPNetwork, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip.version == net.version and ip in net for net in proxies)


def peer(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def client_address(request: Request, proxies: tuple[IPNetwork, ...]) -> str:
    """The address a request came from: the peer, or, if the peer is a trusted proxy, the
    last address in ``X-Forwarded-For`` that is not a trusted proxy itself."""
    address = peer(request.scope)
    if is_trusted(address, proxies):
        hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
        for hop in reversed(hops):
            if _ip(hop) is None:
                break
            address = hop
            if not is_trusted(hop, proxies):
                break
    return address


def is_https(scope: Scope, proxies: tuple[IPNetwork, ...], behind_tls: bool = False) -> bool:
    """Did the browser use HTTPS: ``behind_tls`` (``--behind-tls``), or a trusted proxy says so."""
    if behind_tls or scope.get("scheme") == "https":
        return True
    if not is_trusted(peer(scope), proxies):
        return False
    proto = Headers(scope=scope).get("x-forwarded-proto", "")
    return proto.split(",")[0].strip().lower() == "https"
