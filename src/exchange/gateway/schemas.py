"""Request and response bodies: msgspec Structs, camelCase on the wire, unknown fields refused."""

from datetime import date
from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(max_length=100)]
Short = Annotated[str, msgspec.Meta(max_length=20)]
Address = Annotated[str, msgspec.Meta(max_length=300)]
Email = Annotated[str, msgspec.Meta(max_length=254)]
Secret = Annotated[str, msgspec.Meta(max_length=256)]
Note = Annotated[str, msgspec.Meta(max_length=500)]


class _In(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    pass


class _Out(msgspec.Struct, rename="camel"):
    pass


class ApplicationIn(_In):
    full_name: Name
    national_id: Short
    date_of_birth: date
    address: Address
    email: Email
    phone: Short


class Reason(_Out):
    code: str
    field: str


class ApplicationOut(_Out):
    application_id: int
    status: str
    reasons: list[Reason] = []


class KycApplicationOut(_Out):
    application_id: int
    full_name: str
    national_id: str
    date_of_birth: date | None
    email: str
    phone: str
    status: str
    reasons: list[Reason]


class KycListOut(_Out):
    applications: list[KycApplicationOut]


class RejectIn(_In):
    reason: Note = ""


class ApproveOut(_Out):
    account_id: int
    client_id: str
    client_secret: str


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    """OAuth2 client credentials (RFC 6749 section 4.4): snake_case, form or JSON."""

    client_id: Annotated[str, msgspec.Meta(max_length=64)]
    client_secret: Secret
    grant_type: str = "client_credentials"
    scope: Annotated[str, msgspec.Meta(max_length=100)] = ""


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    scope: str
