"""Child process for the crash test: trades through a journaled core until killed.

Prints `ack <last_seq>` after every batch is durable (that is the moment a
real engine would send the results), and snapshots now and then in a forked
child, so kills also land during snapshots.
"""

import sys
from pathlib import Path

from exchange.engine import JournaledCore
from tests.engine.workload import iter_batches, setup_batch


def main() -> None:
    root, seed = Path(sys.argv[1]), int(sys.argv[2])
    with JournaledCore(root) as engine:
        if engine.last_seq == 0:
            engine.process(setup_batch())
            print(f"ack {engine.last_seq}", flush=True)
        for i, batch in enumerate(iter_batches(seed, 100_000, max_batch=20)):
            engine.process(batch)
            print(f"ack {engine.last_seq}", flush=True)
            if i % 50 == 49:
                engine.snapshot()
                engine.poll_snapshot()


if __name__ == "__main__":
    main()
