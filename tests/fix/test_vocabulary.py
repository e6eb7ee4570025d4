"""The acceptor's FIX vocabulary against the FIX44 dictionary QuickFIX ships (what brokers run).

A value outside that dictionary makes QuickFIX refuse the whole message with a
session-level Reject, so the broker's application never sees it: OrdRejReason 16
and 18 (FIX 5.0) did that to every band and tick rejection.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache

from exchange.core import RejectReason
from exchange.fix.vocabulary import ENUMERATED, FIX44_SIDES, ORD_REJ_REASON, Tag
from tests.fix.quickfix_dictionary import fix44_xml


@cache
def dictionary() -> dict[int, tuple[str, frozenset[str]]]:
    """tag -> (name, enumerated values) from QuickFIX's FIX44.xml."""
    fields = ET.parse(fix44_xml()).getroot().find("fields")
    assert fields is not None
    return {
        int(f.get("number", "0")): (
            f.get("name", ""),
            frozenset(v.get("enum", "") for v in f.findall("value")),
        )
        for f in fields
    }


def test_every_tag_is_fix44_under_its_own_name() -> None:
    known = dictionary()
    for tag in Tag:
        assert tag.value in known, f"{tag.name} ({tag.value}) is not a FIX 4.4 tag"
        name = known[tag.value][0]
        assert tag.name.replace("_", "").lower() == name.lower(), (tag, name)


def test_every_enumerated_value_written_is_in_the_fix44_dictionary() -> None:
    known = dictionary()
    for tag, values in ENUMERATED.items():
        allowed = known[tag][1]
        for member in values:
            assert str(member.value) in allowed, f"{tag.name}={member.value} ({member.name})"
    assert known[Tag.SIDE][1] == FIX44_SIDES


def test_every_reject_reason_of_the_core_has_a_fix44_code() -> None:
    """A new RejectReason fails here until it is placed, instead of reaching a broker."""
    missing = [reason.name for reason in RejectReason if reason not in ORD_REJ_REASON]
    assert missing == []
    allowed = dictionary()[Tag.ORD_REJ_REASON][1]
    assert {str(code.value) for code in ORD_REJ_REASON.values()} <= allowed


def test_fix_5_codes_that_quickfix_refuses_are_not_used() -> None:
    """FIX 5.0's 16 (price exceeds band) and 18 (invalid price increment), and 12, which
    QuickFIX's FIX44 dictionary lacks."""
    codes = {code.value for code in ORD_REJ_REASON.values()}
    assert not codes & {12, 16, 18}
