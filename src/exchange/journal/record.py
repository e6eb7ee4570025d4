"""Record framing: a 20-byte header, then the payload.

Header `<IIQI`: payload length, CRC-32, first sequence number, count. The CRC
covers (first_seq, count) and the payload, so a record that moved or was
half-written never validates. A record covers sequence numbers
first_seq .. first_seq + count - 1.
"""

import struct
import zlib
from dataclasses import dataclass

HEADER = struct.Struct("<IIQI")
HEADER_SIZE = HEADER.size
SEQ_COUNT = struct.Struct("<QI")
MAX_PAYLOAD = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    first_seq: int
    count: int
    payload: bytes

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1


def checksum(first_seq: int, count: int, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(SEQ_COUNT.pack(first_seq, count)))


def frame(first_seq: int, count: int, payload: bytes) -> bytes:
    """Header + payload, ready to append."""
    if count < 1:
        raise ValueError(f"a record covers at least one sequence number, not {count}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return (
        HEADER.pack(len(payload), checksum(first_seq, count, payload), first_seq, count) + payload
    )
