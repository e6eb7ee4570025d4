"""Accounts, KYC and credentials: the gateway's side of who may trade.

Building blocks for the trading gateway: automated KYC screening, credential
hashing (HMAC with a pepper), JWT access tokens and revocation. Storage is
store.py (SQL); HTTP lives in the gateway.
"""

from exchange.accounts.credentials import SecretHasher, new_client_id, new_client_secret
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
    "SecretHasher",
    "TokenIssuer",
    "national_id_valid",
    "new_client_id",
    "new_client_secret",
    "new_signing_key",
    "screen",
    "with_check_digit",
]
