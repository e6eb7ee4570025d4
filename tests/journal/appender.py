"""Child process for the crash test: appends seq-derived records until killed.

After each flush it prints `ack <durable seq>`: from then on the records up
to that seq must survive any crash.
"""

import random
import sys
import time

from exchange.journal import Durability, JournalWriter
from tests.journal.test_journal import payload


def main() -> None:
    directory, policy, seed = sys.argv[1], Durability(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    with JournalWriter(directory, policy, segment_bytes=256 * 1024) as writer:
        seq = writer.next_seq
        while True:
            for _ in range(rng.randint(1, 20)):
                count = rng.randint(1, 50)
                writer.append(seq, count, payload(seq) * rng.randint(1, 4))
                seq += count
            print(f"ack {writer.flush()}", flush=True)
            time.sleep(0.001)  # paced like an engine between batches; keeps the journal small


if __name__ == "__main__":
    main()
