"""What an operator sets for the public market-data server: plain values, one default each."""

from typing import Annotated

import msgspec
from msgspec import Meta


class MarketDataSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, Meta(description="address to listen on")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="HTTP port (the public page)")] = 8081
    rate_per_ip: Annotated[float, Meta(gt=0, description="requests/s per IP")] = 50.0
    connections_per_ip: Annotated[int, Meta(ge=1, description="open at once per IP")] = 20
    max_subscribers: Annotated[int, Meta(ge=1, description="WebSocket clients")] = 20_000
    nice: Annotated[
        int, Meta(ge=0, le=19, description="CPU priority below the engine's (0: unchanged)")
    ] = 10
    blocklist: Annotated[
        str, Meta(description="addresses/networks refused (default <data dir>/blocklist.txt)")
    ] = ""
    allowlist: Annotated[
        str, Meta(description="addresses/networks exempt (default <data dir>/allowlist.txt)")
    ] = ""
