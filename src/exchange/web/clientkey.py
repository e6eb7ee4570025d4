"""One key per client address for every per-address limit (rate buckets, connection caps).

Why: an IPv6 customer is routinely given a whole /64, so keying on the exact
address would hand one client 2^64 buckets and let it walk past every
per-address limit. IPv6 addresses are therefore aggregated to their /64 and
IPv4 addresses are used as they are (an IPv4-mapped IPv6 address counts as
its IPv4 address). Anything that is not an IP address (a Unix socket, a
missing peer) is used verbatim.

Behind a reverse proxy the address is the proxy's unless uvicorn rewrites it
from the proxy's header, which it does only with `--trust-proxy` and for
proxies listed in FORWARDED_ALLOW_IPS (see docs/ARCHITECTURE.md). The block
and allow lists of market data match the exact address, not this key.
"""

import ipaddress
from functools import lru_cache

IPV6_PREFIX = 64


@lru_cache(maxsize=65_536)
def client_key(host: str) -> str:
    """The limiter key for a peer address: IPv4 as is, IPv6 as its /64 network."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False)
        return str(network)
    return host
