"""Start-up recovery: validate every segment, repair a torn tail, refuse anything else."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from exchange.journal.errors import JournalCorruptError
from exchange.journal.segments import list_segments, read_file, scan_bytes

log = logging.getLogger(__name__)


@dataclass
class RecoveryResult:
    next_seq: int
    """The sequence number the next record must start with."""
    segments: list[tuple[int, Path]]
    truncated_bytes: int


def recover(directory: Path | str, first_seq: int = 1) -> RecoveryResult:
    """Check the whole journal in `directory` and cut a torn tail off its last segment.

    Raises JournalCorruptError, naming the file and offset, for damage
    anywhere but the tail of the last segment; never skips silently.
    """
    directory = Path(directory)
    segments = list_segments(directory)
    expected = segments[0][0] if segments else first_seq
    truncated = 0
    for index, (start, path) in enumerate(segments):
        last = index == len(segments) - 1
        if start != expected:
            raise JournalCorruptError(
                f"{path}: segment starts at seq {start}, but the journal continues at {expected}"
            )
        data = read_file(path)
        scan = scan_bytes(data, expected, keep=False)
        if scan.problem is not None:
            if not last or not scan.tail_only:
                raise JournalCorruptError(f"{path} at offset {scan.good_bytes}: {scan.problem}")
            dropped = len(data) - scan.good_bytes
            log.warning(
                "journal %s: torn tail at offset %d (%s); dropping %d bytes",
                path,
                scan.good_bytes,
                scan.problem,
                dropped,
            )
            with open(path, "r+b") as f:
                f.truncate(scan.good_bytes)
                os.fsync(f.fileno())
            truncated += dropped
        if scan.good_bytes == 0 and last:
            log.warning("journal %s: no valid record; removing the empty segment", path)
            path.unlink()
            segments = segments[:-1]
            continue
        if scan.next_seq is not None:
            expected = scan.next_seq
    return RecoveryResult(expected, segments, truncated)
