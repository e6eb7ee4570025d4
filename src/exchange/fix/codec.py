"""FIX 4.4 on the wire: framing with strict BodyLength and CheckSum checks, parsing, encoding.

Framing is ours, because what a gateway must survive is the byte stream:
garbage before a message, a BodyLength that lies, a wrong CheckSum, an
oversized or never-ending message. The `Framer` only ever yields frames
whose BodyLength and CheckSum are right, skips everything else up to the
next `8=FIX.4.4`, counts what it skipped, and never holds more than
`max_message` bytes of a frame.

Parsing and encoding are ours too, on the fast path: a frame the Framer
accepted is split on SOH, and a message is joined from its fields, in C
string operations. simplefix, which we used for both, builds a parser or a
message object per frame in pure Python: 80-125 us per message, most of the
acceptor's codec time (bench/RESULTS.md, 2026-12-08). A frame with a raw
data field (a length-prefixed value that may hold SOH, RawData 96 and its
kind) is still parsed by simplefix, which knows those fields.
"""

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import simplefix
from simplefix.data import RAW_LEN_TAGS

log = logging.getLogger(__name__)
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")

BEGIN = b"8=FIX.4.4\x01"
SOH = b"\x01"
MAX_MESSAGE = 8 * 1024


def checksum(data: bytes) -> int:
    return sum(data) % 256


@dataclass
class Framer:
    """Splits a byte stream into valid FIX 4.4 frames."""

    max_message: int = MAX_MESSAGE
    buffer: bytearray = field(default_factory=bytearray)
    skipped_bytes: int = 0
    bad_frames: int = 0
    """Frames dropped for a bad BodyLength, CheckSum or size."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        self.buffer += data
        while True:
            frame = self._next()
            if frame is None:
                return
            yield frame

    def _resync(self, start: int) -> None:
        """Drop everything before the next BeginString at or after `start`."""
        at = self.buffer.find(BEGIN, start)
        cut = at if at >= 0 else max(0, len(self.buffer) - len(BEGIN) + 1)
        self.skipped_bytes += cut
        del self.buffer[:cut]

    def _next(self) -> bytes | None:
        buffer = self.buffer
        while True:
            if not buffer.startswith(BEGIN):
                self._resync(0)
                if not buffer.startswith(BEGIN):
                    return None
            head_end = buffer.find(SOH, len(BEGIN))
            if head_end < 0:
                if len(buffer) > len(BEGIN) + 12:  # no BodyLength field in sight
                    self.bad_frames += 1
                    self._resync(1)
                    continue
                return None
            length_field = bytes(buffer[len(BEGIN) : head_end])
            if not length_field.startswith(b"9=") or not length_field[2:].isdigit():
                self.bad_frames += 1
                self._resync(1)
                continue
            body_length = int(length_field[2:])
            body_start = head_end + 1
            trailer = body_start + body_length
            end = trailer + 7  # "10=nnn\x01"
            if end > self.max_message:
                self.bad_frames += 1
                self._resync(1)
                continue
            if len(buffer) < end:
                return None
            tail = bytes(buffer[trailer:end])
            if (
                not tail.startswith(b"10=")
                or not tail[3:6].isdigit()
                or tail[6:7] != SOH
                or int(tail[3:6]) != checksum(bytes(buffer[:trailer]))
            ):
                self.bad_frames += 1
                self._resync(1)
                continue
            frame = bytes(buffer[:end])
            del buffer[:end]
            return frame


class Message:
    """A parsed frame: tag -> the first value (bytes), in order."""

    __slots__ = ("fields", "raw")

    def __init__(self, raw: bytes, fields: dict[int, bytes]) -> None:
        self.raw = raw
        self.fields = fields

    def get(self, tag: int) -> str | None:
        value = self.fields.get(tag)
        return None if value is None else value.decode("ascii", "replace")

    @property
    def msg_type(self) -> str:
        return self.get(35) or ""

    @property
    def seq(self) -> int:
        value = self.fields.get(34, b"")
        return int(value) if value.isdigit() else 0


_RAW_LENGTHS = frozenset(RAW_LEN_TAGS)
"""Tags giving the length of the next field's value, which may then hold SOH."""


def parse(frame: bytes) -> Message:
    """Fields of a frame the Framer accepted (tags that are not numbers are dropped)."""
    fields: dict[int, bytes] = {}
    for part in frame.split(SOH):
        tag, _, value = part.partition(b"=")
        if tag.isdigit():
            fields.setdefault(int(tag), value)
    if _RAW_LENGTHS.isdisjoint(fields):
        return Message(frame, fields)
    return _parse_raw_data(frame)


def _parse_raw_data(frame: bytes) -> Message:
    """A frame with a raw data field, parsed by simplefix (it reads such a value by length)."""
    parser = simplefix.FixParser()
    parser.append_buffer(frame)
    parsed = parser.get_message()
    fields: dict[int, bytes] = {}
    if parsed is not None:
        for tag, value in parsed.pairs:
            if tag.isdigit():
                fields.setdefault(int(tag), value)
    return Message(frame, fields)


_second: tuple[int, str] = (-1, "")
"""The last whole second formatted (every message carries SendingTime)."""


def timestamp(when: datetime | None = None) -> str:
    """UTCTimestamp with milliseconds, as FIX 4.4 writes it (now, unless `when`)."""
    global _second
    if when is not None:
        return when.strftime("%Y%m%d-%H:%M:%S.") + f"{when.microsecond // 1000:03d}"
    now = time.time()
    second = int(now)
    if _second[0] != second:
        _second = (second, time.strftime("%Y%m%d-%H:%M:%S.", time.gmtime(second)))
    return f"{_second[1]}{int((now - second) * 1000):03d}"


_TIMESTAMP = re.compile(r"(\d{4})(\d\d)(\d\d)-(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")


def parse_timestamp(value: str) -> datetime | None:
    """A UTCTimestamp (seconds, or 1 to 6 digits of fraction), or None if it is not one."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, sec, fraction = match.groups()
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(sec),
            int(fraction.ljust(6, "0")) if fraction else 0, tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        return None


def encode(
    msg_type: str,
    sender: str,
    target: str,
    seq: int,
    body: list[tuple[int, str | int]],
    *,
    sending_time: str | None = None,
    poss_dup: str | None = None,
) -> bytes:
    """A whole message, header (35, 49, 56, 34, [43, 122,] 52) and body in the order given,
    with its BodyLength and CheckSum."""
    fields = [
        f"35={_printable(35, msg_type)}\x0149={_printable(49, sender)}\x01"
        f"56={_printable(56, target)}\x0134={seq}\x01"
    ]
    if poss_dup is not None:
        fields.append(f"43=Y\x01122={_printable(122, poss_dup)}\x01")
    fields.append(f"52={_printable(52, sending_time or timestamp())}\x01")
    for tag, value in body:
        fields.append(
            f"{tag}={_printable(tag, value) if isinstance(value, str) else int(value)}\x01"
        )
    payload = "".join(fields).encode("ascii")
    message = b"8=FIX.4.4\x019=%d\x01%b" % (len(payload), payload)
    return b"%b10=%03d\x01" % (message, sum(message) % 256)


def _printable(tag: int, value: str) -> str:
    """The value, if it is printable ASCII; else with every other character as '?'.

    SOH inside a value would end the field and start one of the writer's choosing
    (tag injection), and FIX 4.4 strings are printable ASCII. Identifiers are already
    refused at every way in (the REST edge, the core); this is the last line, and it
    still sends the report (a broker waiting for it must get it) rather than drop it.
    """
    if value.isascii() and value.isprintable():
        return value
    log.error("FIX tag %d: a value with unprintable characters was masked", tag)
    return _UNPRINTABLE.sub("?", value)
