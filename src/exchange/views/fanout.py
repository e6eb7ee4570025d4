"""Execution reports to whoever follows an account: the REST stream and FIX sessions alike.

Both gateways hand each batch's reports (from `ExchangeView.apply`) to one
`ReportFanout`, which puts each into the bounded queue of every subscriber
to the report's account. A subscriber follows one account (a WebSocket) or
several (a FIX session follows every account of its credential) and gets
each report once, in event order.

Resume is by event seq: a subscriber subscribes first, then reads the
retained reports after the last seq it saw (`backlog`), and skips queued
reports it already had; so nothing falls between the backlog and the live
reports, whatever runs in between.

A subscriber that falls `capacity` reports behind is cut off (`closed` is
set, it is removed, its queue keeps what it had) instead of letting the
gateway's memory grow: it comes back with the last seq it saw.
"""

import asyncio
import heapq
from collections.abc import Iterable

from exchange.views.order_view import ExchangeView, Report


class Subscriber:
    __slots__ = ("accounts", "closed", "queue")

    def __init__(self, accounts: tuple[int, ...], capacity: int) -> None:
        self.accounts = accounts
        self.queue: asyncio.Queue[Report] = asyncio.Queue(capacity)
        self.closed = asyncio.Event()
        """Set when the subscriber fell `capacity` reports behind and was dropped."""


class ReportFanout:
    def __init__(self, view: ExchangeView, *, queue_capacity: int = 1_000) -> None:
        self.view = view
        self.queue_capacity = queue_capacity
        self.subscribers: dict[int, set[Subscriber]] = {}
        """account -> its live subscribers."""
        self.dropped = 0
        """Subscribers cut off for falling behind, since start."""

    def subscribe(self, accounts: Iterable[int], capacity: int | None = None) -> Subscriber:
        """Follow these accounts from now on (read `backlog` after this, not before)."""
        subscriber = Subscriber(
            tuple(accounts), self.queue_capacity if capacity is None else capacity
        )
        for account in subscriber.accounts:
            self.subscribers.setdefault(account, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        for account in subscriber.accounts:
            subscribers = self.subscribers.get(account)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self.subscribers[account]

    def count(self, account: int) -> int:
        """How many live subscribers follow `account`."""
        return len(self.subscribers.get(account, ()))

    def backlog(self, accounts: Iterable[int], since: int) -> tuple[list[Report], bool]:
        """The retained reports after event `since` of these accounts, in event order, and
        whether they are complete (False when some after `since` are no longer retained)."""
        per_account = []
        complete = True
        for account in accounts:
            activity = self.view.accounts.get(account)
            if activity is not None:
                per_account.append(activity.since(since))
                complete = complete and since >= activity.evicted_through
        return list(heapq.merge(*per_account, key=lambda r: r.seq)), complete

    def publish(self, reports: Iterable[tuple[int, Report]]) -> list[Subscriber]:
        """Queue each report for its account's subscribers; the subscribers that got any."""
        reached: dict[Subscriber, None] = {}
        for account, report in reports:
            subscribers = self.subscribers.get(account)
            if not subscribers:
                continue
            for subscriber in list(subscribers):
                try:
                    subscriber.queue.put_nowait(report)
                except asyncio.QueueFull:
                    self.unsubscribe(subscriber)
                    subscriber.closed.set()
                    self.dropped += 1
                reached[subscriber] = None
        return list(reached)
