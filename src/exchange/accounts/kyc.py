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
    SANCTIONS_NEAR_MATCH = "SANCTIONS_NEAR_MATCH"


REVIEW_FLAGS = frozenset({KycReason.DUPLICATE_IDENTITY, KycReason.SANCTIONS_NEAR_MATCH})
"""Findings for compliance's eyes only (review M5): they send the application to review
instead of rejecting it, and the applicant is not told, so applying is no oracle of who is
a customer, and a national ID someone else applied with first can still be decided on."""


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

    @property
    def public_findings(self) -> tuple[Finding, ...]:
        """What the applicant is told: the reasons for a rejection, never a review flag."""
        return tuple(f for f in self.findings if f.reason not in REVIEW_FLAGS)


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


_LETTER_VARIANTS = str.maketrans(
    {
        "\u064a": "\u06cc",  # Arabic yeh -> Persian yeh
        "\u0649": "\u06cc",  # alef maksura -> Persian yeh
        "\u0643": "\u06a9",  # Arabic kaf -> Persian keheh
        "\u0629": "\u0647",  # teh marbuta -> heh
        "\u06c0": "\u0647",  # heh with yeh above -> heh
        "\u0623": "\u0627",  # alef with hamza above -> alef
        "\u0625": "\u0627",  # alef with hamza below -> alef
        "\u0622": "\u0627",  # alef with madda -> alef
        "\u200c": " ",  # zero-width non-joiner (half space) -> space
    }
)


def normalize_name(name: str) -> str:
    """Case, accents, punctuation, spacing and Persian/Arabic letter variants do not make a
    different person."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_LETTER_VARIANTS))
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in letters.casefold())
    return " ".join(cleaned.split())


def name_key(name: str) -> str:
    """A name as a sorted set of its words of two letters or more: word order and middle
    initials ("Darius A. Example") do not make a different person either."""
    return " ".join(sorted({w for w in normalize_name(name).split() if len(w) > 1}))


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (limit + 1) once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


class SanctionsList:
    """Names nobody may open an account for: one per line, `#` starts a comment."""

    def __init__(self, names: list[str]) -> None:
        self._names = frozenset(name_key(n) for n in names if name_key(n))

    @classmethod
    def load(cls, path: str | Path | None = None) -> "SanctionsList":
        if path is None:
            text = resources.files(__package__).joinpath("sanctions.txt").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return cls([line.split("#", 1)[0].strip() for line in text.splitlines()])

    def __contains__(self, name: str) -> bool:
        """Listed, up to case, accents, punctuation, spacing, word order, middle initials and
        Persian/Arabic letter variants: refused outright."""
        return name_key(name) in self._names

    def near(self, name: str) -> bool:
        """Close to a listed name (a transliteration, a typo): for an officer to decide.

        Close: one or two letters apart (about one in eight), or all of one name's words
        among the other's (a listed name with a middle name added or left out).
        """
        key = name_key(name)
        words = set(key.split())
        for listed in self._names:
            listed_words = set(listed.split())
            if (
                len(words) >= 2
                and len(listed_words) >= 2
                and (words <= listed_words or listed_words <= words)
            ):
                return True
            limit = max(1, len(listed) // 8)
            if _edit_distance(key, listed, limit) <= limit:
                return True
        return False

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
    elif "full_name" not in present and sanctions.near(application.full_name):
        findings.append(Finding(KycReason.SANCTIONS_NEAR_MATCH, "full_name"))
    rejected = any(f.reason not in REVIEW_FLAGS for f in findings)
    status = KycStatus.REJECTED if rejected else KycStatus.PENDING_REVIEW
    return Screening(status, tuple(findings))
