"""Accounts, KYC and credentials: the gateway's side of who may trade.

Building blocks for the trading gateway: automated KYC screening, Argon2
credential hashing and JWT access tokens. No I/O beyond reading the
sanctions list; storage and HTTP live in the gateway.
"""

from exchange.accounts.credentials import (
    hash_secret,
    new_client_id,
    new_client_secret,
    verify_secret,
)
from exchange.accounts.kyc import (
    Application,
    Finding,
    KycReason,
    KycStatus,
    SanctionsList,
    Screening,
    national_id_valid,
    screen,
    with_check_digit,
)
from exchange.accounts.tokens import Claims, InvalidTokenError, TokenIssuer, new_signing_key

__all__ = [
    "Application",
    "Claims",
    "Finding",
    "InvalidTokenError",
    "KycReason",
    "KycStatus",
    "SanctionsList",
    "Screening",
    "TokenIssuer",
    "hash_secret",
    "national_id_valid",
    "new_client_id",
    "new_client_secret",
    "new_signing_key",
    "screen",
    "verify_secret",
    "with_check_digit",
]
