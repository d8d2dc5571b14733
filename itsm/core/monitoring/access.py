"""Who may read /metrics: a bearer token (METRICS_TOKEN) or an address in METRICS_ALLOWED_NETWORKS."""

from __future__ import annotations

import hmac
import ipaddress
from functools import cache

from django.conf import settings


@cache
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def _token_ok(request) -> bool:
    expected = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), expected.encode())


PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def _address_ok(request) -> bool:
    # REMOTE_ADDR, never X-Forwarded-For: a client must not be able to claim an address. And a
    # request that came through a reverse proxy (which sets one of these headers) is not let in
    # by address at all: behind a proxy on the same host every visitor's REMOTE_ADDR is
    # 127.0.0.1. Prometheus scraping the web port directly sends none of them.
    if any(request.META.get(header) for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in network for network in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    )


def may_scrape(request) -> bool:
    return _token_ok(request) or _address_ok(request)
