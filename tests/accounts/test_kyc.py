"""Automated KYC: national ID check digit, age, duplicates, sanctions, required fields."""

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.accounts import (
    Application,
    KycReason,
    KycStatus,
    SanctionsList,
    national_id_valid,
    screen,
)

TODAY = date(2026, 11, 24)


def with_check_digit(first_nine: str) -> str:
    """A synthetic national ID: nine digits plus the check digit the rule demands."""
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(first_nine)) % 11
    return first_nine + str(remainder if remainder < 2 else 11 - remainder)


GOOD = Application(
    full_name="Sara Ahmadi",
    national_id=with_check_digit("001234567"),
    date_of_birth=date(1990, 5, 17),
    address="12 Vali-e Asr St, Tehran",
    email="sara@example.ir",
    phone="+989121234567",
)
SANCTIONS = SanctionsList.load()


def reasons(application: Application, seen: bool = False) -> set[KycReason]:
    """The reasons of an application that is rejected, or none when it waits for review."""
    result = screen(application, today=TODAY, sanctions=SANCTIONS, identity_seen_before=seen)
    assert (result.status is KycStatus.REJECTED) == bool(result.public_findings)
    return {f.reason for f in result.findings}


def test_a_clean_application_waits_for_a_compliance_officer() -> None:
    result = screen(GOOD, today=TODAY, sanctions=SANCTIONS, identity_seen_before=False)
    assert result.status is KycStatus.PENDING_REVIEW and result.findings == ()


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (with_check_digit("001234567"), True),
        (with_check_digit("123456789"), True),
        (with_check_digit("000000001"), True),
        ("0012345679", True),  # 0*10+0*9+1*8+...+7*2 = 112, 112 % 11 = 2, check 11-2 = 9
        ("0012345678", False),
        ("1111111111", False),  # passes the formula, never issued
        ("0000000000", False),
        ("123456789", False),
        ("12345678901", False),
        ("12345678a0", False),
        ("١٢٣٤٥٦٧٨٩٠", False),  # non-ASCII digits
    ],
)
def test_national_id_check_digit(value: str, valid: bool) -> None:
    assert national_id_valid(value) is valid


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_check_digit_is_accepted(first_nine: str) -> None:
    accepted = [d for d in "0123456789" if national_id_valid(first_nine + d)]
    if len(set(first_nine)) == 1:
        assert len(accepted) <= 1  # the repeated-digit code itself is refused
    else:
        assert accepted == [with_check_digit(first_nine)[-1]]


def test_wrong_check_digit_is_rejected() -> None:
    good = GOOD.national_id
    wrong = good[:9] + str((int(good[9]) + 1) % 10)
    assert reasons(replace(GOOD, national_id=wrong)) == {KycReason.INVALID_NATIONAL_ID}


def test_age_limits_on_the_birthday_boundary() -> None:
    assert reasons(replace(GOOD, date_of_birth=date(2008, 11, 24))) == set()  # 18 today
    assert reasons(replace(GOOD, date_of_birth=date(2008, 11, 25))) == {KycReason.UNDER_AGE}
    assert reasons(replace(GOOD, date_of_birth=date(2027, 1, 1))) == {
        KycReason.INVALID_DATE_OF_BIRTH
    }
    assert reasons(replace(GOOD, date_of_birth=date(1890, 1, 1))) == {
        KycReason.INVALID_DATE_OF_BIRTH
    }


def test_every_problem_is_reported_not_just_the_first() -> None:
    bad = replace(GOOD, full_name=" ", address="", email="nope", phone="12", date_of_birth=None)
    assert reasons(bad) == {
        KycReason.MISSING_FIELD,
        KycReason.INVALID_EMAIL,
        KycReason.INVALID_PHONE,
    }
    result = screen(bad, today=TODAY, sanctions=SANCTIONS, identity_seen_before=False)
    missing = {f.field for f in result.findings if f.reason is KycReason.MISSING_FIELD}
    assert missing == {"full_name", "address", "date_of_birth"}


def test_oversized_fields_are_refused() -> None:
    assert reasons(replace(GOOD, address="x" * 301)) == {KycReason.FIELD_TOO_LONG}


def test_m5_a_second_application_goes_to_review_and_the_applicant_is_not_told() -> None:
    """On 56b90ba it was rejected with DUPLICATE_IDENTITY, shown to anyone who applied."""
    result = screen(GOOD, today=TODAY, sanctions=SANCTIONS, identity_seen_before=True)
    assert result.status is KycStatus.PENDING_REVIEW
    assert {f.reason for f in result.findings} == {KycReason.DUPLICATE_IDENTITY}  # compliance
    assert result.public_findings == ()  # the applicant


@pytest.mark.parametrize(
    "name",
    [
        "Darius A. Fictitious Example",  # a middle initial
        "Example, Darius Fictitious",  # another order
        "DARIUS  fictitious-example",
        "Dárius Fíctitious Exámple",  # accents
        "John Testsanction",  # the listed middle initial left out
    ],
)
def test_m5_sanctioned_name_variants_are_refused(name: str) -> None:
    """On 56b90ba a middle initial or another word order passed the exact-match screening."""
    assert reasons(replace(GOOD, full_name=name)) == {KycReason.SANCTIONED}


@pytest.mark.parametrize(
    "name",
    [
        "Darius Fictitious Exampel",  # a transliteration or a typo
        "Kurosh Notareal",
        "Darius Fictitious Example Rostami",  # another name added
    ],
)
def test_m5_near_matches_go_to_an_officer(name: str) -> None:
    result = screen(replace(GOOD, full_name=name), today=TODAY, sanctions=SANCTIONS,
                    identity_seen_before=False)  # fmt: skip
    assert result.status is KycStatus.PENDING_REVIEW
    assert {f.reason for f in result.findings} == {KycReason.SANCTIONS_NEAR_MATCH}
    assert result.public_findings == ()


def test_m5_persian_and_arabic_letter_variants_are_one_name(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("\u0639\u0644\u06cc \u06a9\u0631\u06cc\u0645\u06cc\n", "utf-8")  # Persian
    sanctions = SanctionsList.load(path)
    arabic = "\u0639\u0644\u064a \u0643\u0631\u064a\u0645\u064a"  # Arabic yeh and kaf
    assert arabic in sanctions
    assert "\u0639\u0644\u064a\u200c\u0643\u0631\u064a\u0645\u064a" in sanctions  # half space


def test_unrelated_names_are_not_flagged() -> None:
    for name in ("Demo Trader 1", "Test Person 900", "Sara Ahmadi", "Bench user-12"):
        assert reasons(replace(GOOD, full_name=name)) == set(), name


def test_sanctioned_names_match_whatever_the_case_accents_and_punctuation() -> None:
    assert reasons(replace(GOOD, full_name="  darius   FICTITIOUS example ")) == {
        KycReason.SANCTIONED
    }
    assert reasons(replace(GOOD, full_name="Shirin Placeholder Sample")) == {KycReason.SANCTIONED}
    assert reasons(replace(GOOD, full_name="Maria Exampleperson")) == {KycReason.SANCTIONED}
    assert reasons(replace(GOOD, full_name="Maria Example")) == set()


def test_sanctions_file_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("# header\n\nJane Doe  # added 2026-01-01\n")
    sanctions = SanctionsList.load(path)
    assert len(sanctions) == 1 and "jane doe" in sanctions and "header" not in sanctions
