"""What an operator sets for the FIX 4.4 acceptor: plain values, one default each."""

from typing import Annotated

import msgspec
from msgspec import Meta

from exchange.engine.settings import AccountShard


class FixSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    host: Annotated[str, Meta(description="address to listen on")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="the FIX acceptor's port")] = 9878
    logon_timeout: Annotated[
        float, Meta(gt=0, description="seconds a connection may wait to log on")
    ] = 10.0
    db_url: Annotated[
        str,
        Meta(
            description="the FIX session store (default $EXCHANGE_FIX_DB or "
            "<data dir>/fix-sessions.db)",
            extra={"flag": "--fix-db-url", "env": "EXCHANGE_FIX_DB", "secret": True},
        ),
    ] = ""
    account_shard: AccountShard = -1
