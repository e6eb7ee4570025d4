"""Automated KYC checks on an account application (Know Your Client).

Pure functions: today's date and the facts only the store knows (has this
identity applied before?) are passed in. The result is either `rejected`
with every reason found, or `pending_review` for a compliance officer: the
automated checks never approve on their own.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from importlib import resources
from pathlib import Path

MIN_AGE = 18
MAX_AGE = 130
FIELD_LIMITS = {"full_name": 100, "address": 300, "email": 254, "phone": 20}
_PHONE = re.compile(r"^\+?[0-9]{8,15}$")


class KycStatus(StrEnum):
    REJECTED = "rejected"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"


class KycReason(StrEnum):
    MISSING_FIELD = "MISSING_FIELD"
    FIELD_TOO_LONG = "FIELD_TOO_LONG"
    INVALID_NATIONAL_ID = "INVALID_NATIONAL_ID"
    INVALID_DATE_OF_BIRTH = "INVALID_DATE_OF_BIRTH"
    UNDER_AGE = "UNDER_AGE"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    DUPLICATE_IDENTITY = "DUPLICATE_IDENTITY"
    SANCTIONED = "SANCTIONED"


@dataclass(frozen=True)
class Application:
    full_name: str
    national_id: str
    date_of_birth: date | None
    address: str
    email: str
    phone: str


@dataclass(frozen=True)
class Finding:
    reason: KycReason
    field: str


@dataclass(frozen=True)
class Screening:
    status: KycStatus
    findings: tuple[Finding, ...]


def national_id_valid(value: str) -> bool:
    """The Iranian national ID (code melli): ten digits, the last one a check digit.

    s = sum(digit_i * (10 - i)) for the first nine digits, r = s mod 11; the
    check digit is r when r < 2, else 11 - r. Codes of one repeated digit pass
    that formula but are not issued, so they are refused too.
    """
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    if len(set(value)) == 1:
        return False
    return value == with_check_digit(value[:9])


def with_check_digit(first_nine: str) -> str:
    """Nine digits plus the check digit the national-ID rule demands (for synthetic IDs)."""
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError("nine ASCII digits are required")
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(first_nine)) % 11
    return first_nine + str(remainder if remainder < 2 else 11 - remainder)


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def normalize_name(name: str) -> str:
    """Case, accents, punctuation and spacing do not make a different person."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in letters.casefold())
    return " ".join(cleaned.split())


class SanctionsList:
    """Names nobody may open an account for: one per line, `#` starts a comment."""

    def __init__(self, names: list[str]) -> None:
        self._names = frozenset(normalize_name(n) for n in names if normalize_name(n))

    @classmethod
    def load(cls, path: str | Path | None = None) -> "SanctionsList":
        if path is None:
            text = resources.files(__package__).joinpath("sanctions.txt").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return cls([line.split("#", 1)[0].strip() for line in text.splitlines()])

    def __contains__(self, name: str) -> bool:
        return normalize_name(name) in self._names

    def __len__(self) -> int:
        return len(self._names)


def _email_valid(email: str) -> bool:
    local, at, domain = email.rpartition("@")
    return (
        bool(at and local and domain)
        and "." in domain.strip(".")
        and " " not in email
        and "@" not in local
    )


def screen(
    application: Application,
    *,
    today: date,
    sanctions: SanctionsList,
    identity_seen_before: bool,
) -> Screening:
    """Run every automated check; report everything found, not just the first."""
    findings: list[Finding] = []
    text_fields = {
        "full_name": application.full_name,
        "national_id": application.national_id,
        "address": application.address,
        "email": application.email,
        "phone": application.phone,
    }
    for name, value in text_fields.items():
        if not value.strip():
            findings.append(Finding(KycReason.MISSING_FIELD, name))
        elif len(value) > FIELD_LIMITS.get(name, 10):
            findings.append(Finding(KycReason.FIELD_TOO_LONG, name))
    present = {f.field for f in findings}
    if "national_id" not in present and not national_id_valid(application.national_id):
        findings.append(Finding(KycReason.INVALID_NATIONAL_ID, "national_id"))
    born = application.date_of_birth
    if born is None:
        findings.append(Finding(KycReason.MISSING_FIELD, "date_of_birth"))
    elif born > today or age_on(born, today) > MAX_AGE:
        findings.append(Finding(KycReason.INVALID_DATE_OF_BIRTH, "date_of_birth"))
    elif age_on(born, today) < MIN_AGE:
        findings.append(Finding(KycReason.UNDER_AGE, "date_of_birth"))
    if "email" not in present and not _email_valid(application.email):
        findings.append(Finding(KycReason.INVALID_EMAIL, "email"))
    if "phone" not in present and not _PHONE.match(application.phone.replace(" ", "")):
        findings.append(Finding(KycReason.INVALID_PHONE, "phone"))
    if identity_seen_before:
        findings.append(Finding(KycReason.DUPLICATE_IDENTITY, "national_id"))
    if "full_name" not in present and application.full_name in sanctions:
        findings.append(Finding(KycReason.SANCTIONED, "full_name"))
    status = KycStatus.REJECTED if findings else KycStatus.PENDING_REVIEW
    return Screening(status, tuple(findings))
