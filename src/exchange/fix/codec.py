"""FIX 4.4 on the wire: framing with strict BodyLength and CheckSum checks, parsing, encoding.

Field parsing and encoding are simplefix's; framing is ours, because what a
gateway must survive is the byte stream: garbage before a message, a
BodyLength that lies, a wrong CheckSum, an oversized or never-ending
message. The `Framer` only ever yields frames whose BodyLength and CheckSum
are right, skips everything else up to the next `8=FIX.4.4`, counts what
it skipped, and never holds more than `max_message` bytes of a frame.
"""

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import simplefix

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


def parse(frame: bytes) -> Message:
    """Fields of a frame the Framer accepted (tags that are not numbers are dropped)."""
    parser = simplefix.FixParser()
    parser.append_buffer(frame)
    parsed = parser.get_message()
    fields: dict[int, bytes] = {}
    if parsed is not None:
        for tag, value in parsed.pairs:
            if tag.isdigit():
                fields.setdefault(int(tag), value)
    return Message(frame, fields)


def timestamp(when: datetime | None = None) -> str:
    """UTCTimestamp with milliseconds, as FIX 4.4 writes it."""
    moment = when or datetime.now(UTC)
    return moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def parse_timestamp(value: str) -> datetime | None:
    for pattern in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
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
    """A whole message; simplefix computes BodyLength and CheckSum."""
    message = simplefix.FixMessage()
    message.append_pair(8, "FIX.4.4", header=True)
    message.append_pair(35, msg_type, header=True)
    message.append_pair(49, sender, header=True)
    message.append_pair(56, target, header=True)
    message.append_pair(34, seq, header=True)
    if poss_dup is not None:
        message.append_pair(43, "Y", header=True)
        message.append_pair(122, poss_dup, header=True)
    message.append_pair(52, sending_time or timestamp(), header=True)
    for tag, value in body:
        message.append_pair(tag, _printable(tag, value) if isinstance(value, str) else value)
    encoded: bytes = message.encode()
    return encoded


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
