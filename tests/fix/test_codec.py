"""Framing survives whatever the byte stream holds; parsing and encoding agree."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exchange.fix.codec import Framer, encode, parse


def logon(seq: int = 1) -> bytes:
    return encode("A", "CLIENT", "EXCHANGE", seq, [(98, 0), (108, 30), (554, "secret")])


def test_a_valid_message_round_trips() -> None:
    raw = logon()
    (frame,) = list(Framer().feed(raw))
    message = parse(frame)
    assert frame == raw
    assert (message.msg_type, message.seq, message.get(49), message.get(554)) == (
        "A", 1, "CLIENT", "secret",
    )  # fmt: skip


def test_bytes_arriving_one_at_a_time() -> None:
    framer = Framer()
    raw = logon() + logon(2)
    frames = [f for byte in raw for f in framer.feed(bytes([byte]))]
    assert [parse(f).seq for f in frames] == [1, 2]


def test_garbage_bad_checksum_and_lying_body_length_are_skipped() -> None:
    good = logon(7)
    bad_checksum = logon(5)[:-4] + b"000\x01"
    body_length_lies = logon(6).replace(b"\x019=", b"\x019=1", 1)
    framer = Framer()
    stream = b"\x00garbage\xff" + bad_checksum + body_length_lies + b"8=FIX.4.4\x019=x\x01" + good
    frames = list(framer.feed(stream))
    assert [parse(f).seq for f in frames] == [7]
    assert framer.bad_frames >= 3 and framer.skipped_bytes > 0


def test_an_oversized_message_is_dropped_without_buffering_it() -> None:
    framer = Framer(max_message=512)
    huge = encode("D", "CLIENT", "EXCHANGE", 1, [(58, "x" * 5_000)])
    assert list(framer.feed(huge + logon(2))) != []
    assert framer.bad_frames >= 1
    assert len(framer.buffer) < 512
    endless = b"8=FIX.4.4\x019=999999\x01" + b"y" * 100_000
    assert list(framer.feed(endless)) == []
    assert len(framer.buffer) < 512


@given(st.binary(max_size=400), st.binary(max_size=400))
def test_any_noise_around_a_message_never_hides_it_or_invents_one(
    before: bytes, after: bytes
) -> None:
    noise = before.replace(b"8=FIX", b"8=FAX")
    framer = Framer()
    frames = list(framer.feed(noise + logon(3) + after.replace(b"8=FIX", b"8=FAX")))
    assert [parse(f).seq for f in frames] == [3]


def test_m2_no_value_can_inject_a_tag_into_a_frame() -> None:
    """A ClOrdID carrying SOH would end its field and start others (review M2)."""
    injected = "X\x0139=2\x0114=1000\x0132=1000"
    raw = encode("8", "EXCHANGE", "C", 7, [(11, injected), (39, "0"), (14, 0)])
    message = parse(raw)
    assert message.get(39) == "0" and message.get(14) == "0"
    assert message.get(11) == "X?39=2?14=1000?32=1000"
    assert raw.count(b"\x01") == 11  # 8 9 35 49 56 34 52, then 11 39 14, then 10: no more
