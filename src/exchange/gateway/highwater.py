"""Per account, the event seq after the last reply a gateway got for it: read-your-writes.

A read (GET /v1/order, /v1/orders) waits until the view has applied what
the gateway acknowledged for the account. With several workers a client's
POST and its next GET may land on different workers, so the marks must be
shared: `SharedHighWater` keeps them in an anonymous shared mmap made before
the fork, one 64-bit slot per `account % slots`. Accounts that share a
slot share the highest mark: a read may wait for another account's later
event (about a feed's latency), never less than its own, so it stays exact.
"""

import mmap
import multiprocessing
from multiprocessing.synchronize import Lock
from typing import Protocol

LOCKS = 16


class HighWater(Protocol):
    def raise_to(self, account: int, next_event_seq: int) -> None: ...

    def get(self, account: int) -> int: ...


class LocalHighWater:
    """One process's marks, exact per account."""

    __slots__ = ("_marks",)

    def __init__(self) -> None:
        self._marks: dict[int, int] = {}

    def raise_to(self, account: int, next_event_seq: int) -> None:
        if next_event_seq > self._marks.get(account, 0):
            self._marks[account] = next_event_seq

    def get(self, account: int) -> int:
        return self._marks.get(account, 0)


class SharedHighWater:
    """The marks of every worker of a gateway, in shared memory (made before fork)."""

    def __init__(self, slots: int = 1 << 16) -> None:
        if slots < 1:
            raise ValueError("slots must be >= 1")
        self.slots = slots
        self._memory = mmap.mmap(-1, slots * 8)
        self._marks = memoryview(self._memory).cast("q")
        context = multiprocessing.get_context("fork")
        self._locks: list[Lock] = [context.Lock() for _ in range(LOCKS)]

    def raise_to(self, account: int, next_event_seq: int) -> None:
        slot = account % self.slots
        if self._marks[slot] >= next_event_seq:
            return
        with self._locks[slot % LOCKS]:
            self._marks[slot] = max(self._marks[slot], next_event_seq)

    def get(self, account: int) -> int:
        return self._marks[account % self.slots]
