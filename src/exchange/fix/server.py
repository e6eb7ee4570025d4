"""`exchange fix`: the FIX 4.4 acceptor (asyncio TCP), in front of the engine.

Per connection: a `Framer` (bounded, skips garbage), a `Session` (the
rules), a token bucket that slows a flooding client down by reading its
socket more slowly (TCP back-pressure; other sessions are not affected).
Logon authenticates SenderCompID + Password (554) as an API credential
(the same clientId and clientSecret as REST; the check runs in a thread).

Execution reports come from one place only: the order view following the
engine's feed. So a report is the same whether the order came from this
session, another gateway, or a fill of a resting order, and none is sent
twice: each report is stored with the engine event it reports, and a
session that logs on again gets every report after the last one it was
sent. Replies to requests that change nothing (an unknown order, a
duplicate ClOrdID) are answered from the engine's reply.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from exchange.accounts.store import AccountStore, Credential
from exchange.core import RejectReason
from exchange.core.events import CancelRejected, DuplicateOrder, OrderRejected
from exchange.engine.client import EngineClient, EngineUnavailableError
from exchange.engine.curve import keys_for
from exchange.engine.feed import FeedTask, Part, open_feed
from exchange.fix import orders
from exchange.fix.codec import Framer, Message, parse
from exchange.fix.outbox import Outbox
from exchange.fix.session import Action, Deliver, Send, Session, Stream
from exchange.fix.store import SessionStore
from exchange.fix.vocabulary import (
    BusinessRejectReason,
    MsgType,
    SessionRejectReason,
    Tag,
    YesNo,
)
from exchange.heap import settle
from exchange.views.fanout import ReportFanout, Subscriber
from exchange.views.order_view import ExchangeView, Report
from exchange.web.clientkey import client_key
from exchange.web.ratelimit import TokenBuckets

log = logging.getLogger(__name__)
TICK_SECONDS = 0.25
"""Timers (heartbeats, logon timeout) and revocations are looked at this often."""
STREAM_CHUNK = 100
"""Messages of a resend written between two waits for the peer to read them."""
CHECKPOINT_SECONDS = 1.0
"""How often the session store's write-ahead log is copied into its database (a thread)."""


class FeedStoppedError(RuntimeError):
    """The engine's feed failed: execution reports can no longer reach any session."""


@dataclass
class FixConfig:
    engine_endpoint: str
    engine_publish: str
    journal: Path
    accounts_url: str
    store_url: str
    pepper_file: Path | None = None
    """The credential hashes' key, the gateway's (default: as AccountStore finds it)."""
    keys_dir: Path | None = None
    """The engine's CURVE keys (default: `keys/` beside the journal): the trading key for
    orders and cancels, the feed key for the batches."""
    journal_service: str = ""
    """Engine nodes' journal services: fill feed gaps over the network ("": from `journal`)."""
    account_shard: int | None = None
    """Serve only the accounts with id % account_shards == account_shard, following only
    their part of the feed (None: every account, the whole feed)."""
    account_shards: int = 0
    host: str = "127.0.0.1"
    port: int = 9878
    our_id: str = "EXCHANGE"
    max_message: int = 8 * 1024
    messages_per_second: float = 2_000.0
    burst: int = 4_000
    logon_timeout: float = 10.0
    max_connections: int = 2_000
    connections_per_ip_before_logon: int = 20
    """Connections of one address that have not logged on yet; beyond, refused at accept."""
    logons_per_ip_rate: float = 5.0
    logons_per_ip_burst: int = 20
    """Logon attempts per address (each checks a credential), before anything is checked."""
    max_logon_checks: int = 8
    """Credential checks in progress at once; a Logon beyond is refused, never queued."""
    drain_timeout: float = 5.0
    """Seconds a peer may take to read what we sent; then the connection is dropped."""
    max_write_buffer: int = 4 * 1024 * 1024
    """Bytes waiting for a peer that does not read; beyond, the connection is dropped."""
    report_queue: int = 10_000
    """Reports one session may have pending within one batch before it is cut off."""


class Connection:
    """One TCP connection and its session."""

    def __init__(self, gateway: "FixGateway", writer: asyncio.StreamWriter) -> None:
        self.gateway = gateway
        self.writer = writer
        self.session = Session(
            gateway.store,
            self._authenticated,
            our_id=gateway.config.our_id,
            logon_timeout=gateway.config.logon_timeout,
        )
        self.credential: Credential | None = None
        self.address = ""
        self.counted_out = False
        self.closing = False
        self.aborted = False
        self.last_event = 0
        """The last engine event reported to this counterparty (loaded at logon, kept current)."""
        self.subscriber: Subscriber | None = None
        """Its credential's accounts in the report fan-out, from logon on."""

    def _authenticated(self, sender: str, password: str) -> bool:
        return self.credential is not None and self.credential.client_id == sender

    def write(self, raw: bytes) -> None:
        """Queue a message: it is written at the end of this turn, after the store's commit."""
        if self.closing:
            return
        self.gateway.outbox.put(self, raw)

    def deliver(self, data: bytes) -> None:
        """The outbox's write, once what `data` carries is stored."""
        transport = self.writer.transport
        if self.aborted or transport.is_closing():
            return
        self.writer.write(data)
        if transport.get_write_buffer_size() > self.gateway.config.max_write_buffer:
            log.warning("FIX peer %s does not read: dropped", self.session.client_id)
            self.abort()

    def abort(self) -> None:
        """Drop the connection at once (a peer that does not read cannot hold its session)."""
        self.closing = self.aborted = True
        self.writer.transport.abort()

    def close(self) -> None:
        """Write what is queued (stored first), then close the connection."""
        self.closing = True
        self.gateway.outbox.flush()
        self.writer.close()

    async def drain(self) -> None:
        """Wait for the peer to read what we sent, at most `drain_timeout`; else drop it.

        Only a buffer past its high-water mark is waited for (what `drain` itself does):
        the usual case returns at once, without the task and timer of a `wait_for` for
        every read of the socket."""
        transport = self.writer.transport
        if transport.get_write_buffer_size() < transport.get_write_buffer_limits()[1]:
            return
        try:
            await asyncio.wait_for(self.writer.drain(), self.gateway.config.drain_timeout)
        except (TimeoutError, ConnectionError):
            self.abort()

    def report(self, report: Report) -> None:
        """Send one execution report, unless this counterparty already had it."""
        session = self.session
        if not session.active or report.seq <= self.gateway.store.last_event(
            session.client_id or ""
        ):
            return
        view = self.gateway.view
        cancel = (
            self.gateway.cancels.pop(report.order_id, None) if report.kind == "canceled" else None
        )
        body = orders.execution_report(report, view.orders.get(report.order_id), cancel)
        self.write(session.send(MsgType.EXECUTION_REPORT, body, event=report.seq).raw)
        self.last_event = report.seq

    def flush(self) -> None:
        """Send the reports queued for this session; close it if it was cut off for lag
        (it logs on again and is sent what it missed)."""
        subscriber = self.subscriber
        if subscriber is None:
            return
        queue = subscriber.queue
        while not queue.empty():
            self.report(queue.get_nowait())
        if subscriber.closed.is_set() and not self.closing:
            log.warning("FIX session %s fell behind: closed", self.session.client_id)
            self.close()


class FixGateway:
    def __init__(self, config: FixConfig) -> None:
        self.config = config
        self.accounts = AccountStore(config.accounts_url, pepper_file=config.pepper_file)
        self.store = SessionStore(config.store_url)
        self.outbox = Outbox(self.store.commit)
        self.view = ExchangeView()
        self.fanout = ReportFanout(self.view, queue_capacity=config.report_queue)
        keys = keys_for(config.journal, config.keys_dir)
        feed = open_feed(
            config.engine_publish,
            config.journal,
            keys,
            journal_service=config.journal_service,
            shard=config.account_shard,
            shards=config.account_shards,
        )
        self.following = FeedTask(feed, self._apply, "the FIX gateway")
        self.engine = EngineClient(config.engine_endpoint, keys=keys.client("trading"))
        self.live: dict[str, Connection] = {}
        self.revoked: frozenset[str] = self.accounts.revoked_ids()
        self.subscribed: dict[Subscriber, Connection] = {}
        self.cancels: dict[int, tuple[str, str]] = {}
        """order id -> (ClOrdID, OrigClOrdID) of a pending OrderCancelRequest."""
        self.connections = 0
        self.before_logon: dict[str, int] = {}
        """Connections per address that have not logged on (M3)."""
        self.logons = TokenBuckets(config.logons_per_ip_rate, config.logons_per_ip_burst)
        self.logon_checks = 0
        self._status_ids = 0
        self.server: asyncio.Server | None = None

    # -------------------------------------------------------------- routing

    def _apply(self, batch: Part) -> None:
        for subscriber in self.fanout.publish(self.view.apply(batch)):
            connection = self.subscribed.get(subscriber)
            if connection is not None:
                connection.flush()

    def _logged_on(self, connection: Connection) -> None:
        """Register the session and send it every report it has not had yet, in event order."""
        credential = connection.credential
        assert credential is not None
        self.live[credential.client_id] = connection
        subscriber = connection.subscriber = self.fanout.subscribe(credential.accounts)
        self.subscribed[subscriber] = connection
        after = connection.last_event = self.store.last_event(credential.client_id)
        missed, _ = self.fanout.backlog(credential.accounts, after)
        for report in missed:
            connection.report(report)

    def _gone(self, connection: Connection) -> None:
        credential = connection.credential
        if credential is None or self.live.get(credential.client_id) is not connection:
            return
        del self.live[credential.client_id]
        if connection.subscriber is not None:
            self.fanout.unsubscribe(connection.subscriber)
            self.subscribed.pop(connection.subscriber, None)

    # ----------------------------------------------------------- connection

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = Connection(self, writer)
        address = client_key(str((writer.get_extra_info("peername") or ("?",))[0]))
        connection.address = address
        self.before_logon[address] = self.before_logon.get(address, 0) + 1
        framer = Framer(self.config.max_message)
        bucket = TokenBuckets(self.config.messages_per_second, self.config.burst, max_keys=1)
        ticker = asyncio.ensure_future(self._tick(connection))
        try:
            if (
                self.connections > self.config.max_connections
                or self.before_logon[address] > self.config.connections_per_ip_before_logon
            ):
                return
            while not connection.closing:
                data = await reader.read(4096)
                if not data:
                    break
                for frame in framer.feed(data):
                    wait = bucket.take("c")
                    if wait:
                        await asyncio.sleep(wait)  # a flood is read more slowly, nothing else
                    await self._handle(connection, parse(frame))
                    if connection.closing:
                        break
                await connection.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("FIX connection failed")
        finally:
            ticker.cancel()
            self._gone(connection)
            self._logged_on_or_gone(connection)
            self.connections -= 1
            with contextlib.suppress(Exception):
                connection.close()
                await asyncio.wait_for(writer.wait_closed(), self.config.drain_timeout)
            if not writer.transport.is_closing() or writer.transport.get_write_buffer_size():
                writer.transport.abort()  # a peer that never reads what is left

    async def _tick(self, connection: Connection) -> None:
        while not connection.closing:
            await asyncio.sleep(TICK_SECONDS)
            credential = connection.credential
            if (
                credential is not None
                and connection.session.active
                and credential.client_id in self.revoked
            ):  # review H5: a revoked credential's session ends within a second
                await self._perform(connection, connection.session.logout("credential revoked"))
                return
            await self._perform(connection, connection.session.tick())

    async def _watch_revocations(self) -> None:
        """Keep `revoked` current with the accounts database (the gateways revoke there)."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.revoked = await asyncio.to_thread(self.accounts.revoked_ids)
            except Exception:  # the database is away: keep the last set, try again
                log.exception("could not refresh the revoked credentials")

    async def _checkpoints(self) -> None:
        """The session store's write-ahead log into its database, from a thread, every second."""
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await asyncio.to_thread(self.store.checkpoint)
            except Exception:  # busy or away: the next one copies what this one did not
                log.exception("FIX session store checkpoint failed")

    async def _handle(self, connection: Connection, message: Message) -> None:
        session = connection.session
        if session.client_id is None and message.msg_type == MsgType.LOGON:
            if self.logons.take(connection.address) or (
                self.logon_checks >= self.config.max_logon_checks
            ):  # before any credential is checked: H1
                connection.write(session.refuse("too many logons: try again later", message).raw)
                connection.close()  # after what was written: the Logout goes out
                return
            sender = message.get(Tag.SENDER_COMP_ID) or ""
            password = message.get(Tag.PASSWORD) or ""
            self.logon_checks += 1
            try:
                credential = await asyncio.to_thread(self.accounts.authenticate, sender, password)
            finally:
                self.logon_checks -= 1
            if credential is not None and "trade" in credential.scopes:
                if sender in self.live:
                    credential = None  # one session per SenderCompID at a time
                connection.credential = credential
        was_active = session.active
        await self._perform(connection, session.receive(message))
        if session.active and not was_active:
            self._logged_on_or_gone(connection)
            self._logged_on(connection)

    def _logged_on_or_gone(self, connection: Connection) -> None:
        """The connection no longer counts among its address's connections before logon."""
        if connection.address and not connection.counted_out:
            connection.counted_out = True
            left = self.before_logon.get(connection.address, 1) - 1
            if left > 0:
                self.before_logon[connection.address] = left
            else:
                self.before_logon.pop(connection.address, None)

    async def _perform(self, connection: Connection, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                connection.write(action.raw)
            elif isinstance(action, Stream):
                for n, send in enumerate(action.sends, 1):
                    connection.write(send.raw)
                    if connection.closing:
                        return
                    if n % STREAM_CHUNK == 0:
                        self.outbox.flush()
                        await connection.drain()  # other sessions run meanwhile
            elif isinstance(action, Deliver):
                await self._application(connection, action.message)
            else:
                connection.closing = True
                log.info("FIX session closed: %s", action.reason)
                self.outbox.flush()
                await connection.drain()
                connection.writer.close()

    # ---------------------------------------------------------- application

    def _account(self, connection: Connection, message: Message) -> int | None:
        credential = connection.credential
        assert credential is not None
        named = message.get(Tag.ACCOUNT)
        if named is None and len(credential.accounts) == 1:
            return self._served(credential.accounts[0])
        if (
            named is not None
            and named.isascii()
            and named.isdigit()
            and len(named) <= orders.MAX_DIGITS
            and int(named) in credential.accounts
        ):
            return self._served(int(named))
        return None

    def _served(self, account: int) -> int | None:
        """`account` if this acceptor serves it (one of its account shard, when it has one)."""
        shard, shards = self.config.account_shard, self.config.account_shards
        return account if shard is None or account % shards == shard else None

    async def _application(self, connection: Connection, message: Message) -> None:
        session = connection.session
        account = self._account(connection, message)
        if account is None:
            connection.write(
                session.reject(
                    message,
                    SessionRejectReason.VALUE_IS_INCORRECT,
                    "Account (1) required, not yours or served by another acceptor",
                    Tag.ACCOUNT,
                ).raw
            )
            return
        try:
            if message.msg_type == MsgType.NEW_ORDER_SINGLE:
                await self._new_order(connection, message, account)
            elif message.msg_type == MsgType.ORDER_CANCEL_REQUEST:
                await self._cancel(connection, message, account)
            else:
                self._status(connection, message, account)
        except orders.UnsupportedOrderError as error:
            self._status_ids += 1
            body = orders.unsupported(
                message, f"U{int(time.time())}-{self._status_ids}", error.text
            )
            connection.write(session.send(MsgType.EXECUTION_REPORT, body).raw)
        except orders.BadRequestError as error:
            connection.write(
                session.reject(
                    message, SessionRejectReason.VALUE_IS_INCORRECT, error.text, error.tag
                ).raw
            )
        except EngineUnavailableError:
            connection.write(
                session.business_reject(
                    message,
                    BusinessRejectReason.APPLICATION_NOT_AVAILABLE,
                    "the engine is unavailable",
                ).raw
            )

    async def _new_order(self, connection: Connection, message: Message, account: int) -> None:
        command = orders.new_order(message, account)
        reply = await self.engine.submit(command)
        first = reply.events[0] if reply.events else None
        session = connection.session
        if type(first) is DuplicateOrder and message.get(Tag.POSS_RESEND) != YesNo.YES:
            body = orders.refused(message, f"D{reply.seq}", None)
            connection.write(session.send(MsgType.EXECUTION_REPORT, body).raw)
        elif type(first) is DuplicateOrder:  # a PossResend: the order as it stands
            order = self.view.order(account, first.order_id)
            if order is not None:
                body = orders.status_report(order, f"R{reply.seq}")
                connection.write(session.send(MsgType.EXECUTION_REPORT, body).raw)
        elif type(first) is OrderRejected and not first.order_id:
            body = orders.refused(message, f"X{reply.seq}", first.reason)
            connection.write(session.send(MsgType.EXECUTION_REPORT, body).raw)
        # Anything else (accepted, rejected with an id, fills) arrives from the feed.

    async def _cancel(self, connection: Connection, message: Message, account: int) -> None:
        command = orders.cancel_order(message, account)
        view = self.view
        target = (
            view.order(account, command.order_id)
            if command.order_id
            else view.order_by_client_id(account, command.client_order_id)
        )
        if target is not None:  # before the engine answers: the feed may be quicker
            self.cancels[target.id] = (
                message.get(Tag.CL_ORD_ID) or "",
                message.get(Tag.ORIG_CL_ORD_ID) or target.client_order_id,
            )
        reply = await self.engine.submit(command)
        first = reply.events[0] if reply.events else None
        if type(first) is CancelRejected:
            if target is not None:
                self.cancels.pop(target.id, None)
            reason = first.reason if first.reason in RejectReason else RejectReason.UNKNOWN_ORDER
            body = orders.cancel_reject(message, reason, target)
            connection.write(connection.session.send(MsgType.ORDER_CANCEL_REJECT, body).raw)

    def _status(self, connection: Connection, message: Message, account: int) -> None:
        view = self.view
        order_id = message.get(Tag.ORDER_ID) or ""
        order = (
            view.order(account, int(order_id))
            if order_id.isascii() and order_id.isdigit() and len(order_id) <= orders.MAX_DIGITS
            else view.order_by_client_id(account, message.get(Tag.CL_ORD_ID) or "")
        )
        self._status_ids += 1
        exec_id = f"S{int(time.time())}-{self._status_ids}"
        body = (
            orders.status_report(order, exec_id)
            if order
            else orders.unknown_order_status(message, exec_id)
        )
        connection.write(connection.session.send(MsgType.EXECUTION_REPORT, body).raw)

    # ------------------------------------------------------------ lifecycle

    async def serve(self, stop: asyncio.Event) -> None:
        await self.following.start()
        self.server = await asyncio.start_server(
            self._connection, self.config.host, self.config.port, limit=self.config.max_message
        )
        log.info(
            "FIX acceptor on %s:%d as %s", self.config.host, self.config.port, self.config.our_id
        )
        settle()
        revocations = asyncio.ensure_future(self._watch_revocations())
        checkpoints = asyncio.ensure_future(self._checkpoints())
        try:
            stopping = asyncio.ensure_future(stop.wait())
            feed_ended = asyncio.ensure_future(self.following.ended())
            await asyncio.wait({stopping, feed_ended}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (stopping, feed_ended):
                waiter.cancel()
            if not stop.is_set():
                # Without the feed no session gets its reports: stop, so that a supervisor
                # (exchange run, systemd) sees it and restarts us, rather than go on silent.
                raise FeedStoppedError("the FIX acceptor stopped following the engine")
        finally:
            revocations.cancel()
            checkpoints.cancel()
            self.server.close()
            for connection in list(self.live.values()):
                connection.close()
            await self.server.wait_closed()
            await self.following.close()
            await self.engine.close()
            self.store.close()
            log.info(
                "FIX session store: %d messages in %d commits",
                self.store.messages,
                self.store.commits,
            )


def serve(config: FixConfig, stop: Callable[[], asyncio.Event]) -> None:
    """Run the acceptor until the event `stop()` gives is set, on uvloop where it is installed
    (its loop and transports are C: every read, write and callback costs less)."""

    async def main() -> None:
        await FixGateway(config).serve(stop())

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux
        asyncio.run(main())
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
