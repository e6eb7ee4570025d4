"""What an operator sets for the client gateway (REST + WebSocket): plain values."""

from typing import Annotated

import msgspec
from msgspec import Meta

from exchange.engine.settings import AccountShard

Rate = Annotated[float, Meta(gt=0)]


class GatewaySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, Meta(description="address to listen on")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="HTTP port")] = 8080
    rate_per_ip: Annotated[Rate, Meta(description="requests/s per IP")] = 200.0
    rate_per_client: Annotated[Rate, Meta(description="requests/s per credential")] = 500.0
    orders_per_account: Annotated[Rate, Meta(description="orders+cancels/s per account")] = 200.0
    applications_per_ip: Annotated[Rate, Meta(description="account applications/s per IP")] = 0.2
    tokens_per_ip: Annotated[Rate, Meta(description="token requests/s per IP")] = 5.0
    max_body_bytes: Annotated[int, Meta(ge=1024, description="request body, bytes at most")] = (
        16 * 1024
    )
    trust_proxy: Annotated[
        bool,
        Meta(
            description="take the client IP from X-Forwarded-For sent by a local proxy "
            "(off: spoofable)"
        ),
    ] = False
    max_requests: Annotated[
        int, Meta(ge=1, description="served at once (per worker); beyond, 503")
    ] = 5_000
    max_connections: Annotated[
        int, Meta(ge=1, description="open connections (uvicorn, per worker)")
    ] = 20_000
    account_shard: AccountShard = -1
    workers: Annotated[
        int,
        Meta(
            ge=0,
            le=256,
            description="processes serving the port (SO_REUSEPORT); 0: one per core",
            extra={"env": "EXCHANGE_GATEWAY_WORKERS"},
        ),
    ] = 0
