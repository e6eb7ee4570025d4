"""Opening thousands of members fast, for an exchange `exchange bench --spawn` started itself.

Through the API every approval goes through KYC and a compliance call, one
by one. On a throwaway exchange the generator may instead write
credentials straight into its accounts database (hashed with the data
directory's pepper, as the gateway does), and open and fund the accounts
with engine commands. Tokens still come from POST /v1/oauth/token, and
everything after that (orders, streams, FIX logons) is the real path.
Never used against an exchange the generator did not start.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from exchange.accounts import store as account_store
from exchange.core import Deposit
from exchange.engine.client import EngineClient
from exchange.engine.curve import KeyDirectory
from exchange.loadgen.plan import Symbol
from exchange.loadgen.users import User, funding_of


class DirectOpener:
    """Opens member `index` (makers after users) as the next account the engine allocates."""

    def __init__(self, data_dir: Path, engine_endpoint: str, symbols: Sequence[Symbol]) -> None:
        self.store = account_store.AccountStore(f"sqlite:///{data_dir / 'accounts.db'}")
        keys = KeyDirectory(data_dir / "keys").client("admin")  # it opens and funds accounts
        self.engine = EngineClient(engine_endpoint, keys=keys, timeout=2.0, deadline=30.0)
        self.symbols = symbols

    async def __call__(self, index: int, maker: bool) -> User:
        owner = f"bench_{'maker' if maker else 'user'}_{index}_{secrets.token_hex(8)}"
        account = await self.engine.open_account(owner)
        secret = secrets.token_urlsafe(32)
        client_id, _ = self.store.create_credential(
            frozenset({"read", "trade"}),
            (account,),
            client_id=f"bench_{account}_{secrets.token_hex(4)}",
            secret=secret,
        )
        for asset, amount in funding_of(index, self.symbols, maker):
            await self.engine.submit(
                Deposit(
                    account=account,
                    asset=asset,
                    amount=amount,
                    reference=f"bench-{account}-{asset}",
                )
            )
        return User(account, client_id, secret)

    async def close(self) -> None:
        await self.engine.close()
        self.store.engine.dispose()
