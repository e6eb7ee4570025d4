"""`exchange engine`: the application loop around the journaled core.

One thread. Per turn: take whatever requests have arrived (up to
`max_batch`), add the session commands the calendar asks for, sequence,
apply and journal them durably as one batch, then answer each sender and
publish the batch. Nothing is answered before it is durable.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import zmq

from exchange.calendar import TradingCalendar
from exchange.core import Command
from exchange.engine.curve import QUERY_ROLES, CurveServer, KeyDirectory, allowed, keys_for
from exchange.engine.journal_service import serving_journal
from exchange.engine.journaled import JournaledCore, NotReplicatedError
from exchange.engine.layout import DataDir
from exchange.engine.protocol import (
    Reply,
    is_list,
    pack_list,
    reply_encoder,
    request_decoder,
    requests_decoder,
)
from exchange.engine.publisher import FeedPublisher
from exchange.engine.queries import AccountQuery, answer
from exchange.engine.role import RoleLock
from exchange.engine.scheduler import session_commands
from exchange.heap import settle
from exchange.journal import Durability
from exchange.lifecycle import Stop
from exchange.refdata import load_instruments

log = logging.getLogger(__name__)

Sender = tuple[bytes, int, int, bool]
"""Who sent a command: ROUTER identity, request id, when it was read (perf_counter_ns), and
whether it came in a list (then its reply goes in a list, with that client's others)."""


@dataclass
class EngineConfig:
    data_dir: Path
    endpoint: str = "tcp://127.0.0.1:5555"
    publish: str = "tcp://127.0.0.1:5556"
    durability: Durability = Durability.WRITE
    calendar: TradingCalendar | None = None
    max_batch: int = 1_000
    snapshot_every: int = 1_000_000
    """Commands between snapshots (written by a forked child)."""
    list_symbols: bool = True
    """On first start, list the shipped instruments (journaled like any command)."""
    keys_dir: Path | None = None
    """The CURVE keys (curve.py); default `<data dir>/keys`, made if missing."""
    account_shards: int = 16
    """Batches are also published cut by account % account_shards (publisher.py); 0: not."""
    journal_service: str = ""
    """Where this node serves ranges of its journal to followers elsewhere ("": nowhere)."""

    @property
    def keys(self) -> KeyDirectory:
        return keys_for(self.data_dir / "journal", self.keys_dir)


def _refusal(request_id: int, error: str) -> bytes:
    """The reply to a request refused before sequencing: `seq` 0, no events, the reason."""
    return reply_encoder.encode(Reply(request_id, 0, 0, [], error=error[:200]))


class RoleTakenError(RuntimeError):
    """Another engine holds the primary role for this data directory."""


class EngineServer:
    def __init__(
        self,
        config: EngineConfig,
        engine: JournaledCore | None = None,
        role: RoleLock | None = None,
        leading: Callable[[], bool] | None = None,
    ) -> None:
        """`engine` and `role`: from a standby taking over, already rebuilt and holding the role.

        `leading`: in a cluster, whether this node still holds the leader's
        lease; checked before every batch, so an engine that lost it stops
        acknowledging at once (its replication is fenced besides).
        """
        self.config = config
        self.calendar = config.calendar or TradingCalendar.default()
        self.role = role or RoleLock(config.data_dir)
        if not self.role.try_acquire():
            raise RoleTakenError(f"another engine holds the role in {config.data_dir}")
        self.engine = engine or JournaledCore(config.data_dir, durability=config.durability)
        self.context = zmq.Context()
        # Only the exchange's own processes get through: CURVE with known client keys (C1).
        self.curve = CurveServer(self.context, config.keys.ensure())
        self.router = self.context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self.curve.apply(self.router)
        self.router.bind(config.endpoint)
        self.publisher = FeedPublisher(
            self.context, self.curve, config.publish, config.account_shards
        )
        self.running = True
        self.leading = leading
        self.stepped_down = False
        """True when serving ended because leadership was lost (cluster)."""
        self._since_snapshot = 0
        self._last_session_check = 0.0

    def stop(self, *_: object) -> None:
        self.running = False

    def _bootstrap(self) -> None:
        if self.config.list_symbols and not self.engine.core.instruments:
            listing: list[Command] = list(load_instruments())
            self._run_batch(listing, [])
            log.info("listed %d instruments", len(listing))
        settle()

    def _session(self) -> list[Command]:
        now = time.monotonic()
        if now - self._last_session_check < 0.05:
            return []
        self._last_session_check = now
        return session_commands(self.calendar, datetime.now(UTC), self.engine.core)

    def _run_batch(self, commands: list[Command], senders: list[Sender | None]) -> None:
        started = time.perf_counter_ns()
        batch, payload = self.engine.process_encoded(commands)
        match, replicate, journal = self.engine.stage_ns
        refused = self.engine.refused
        event_seq = batch.first_event_seq
        send = self.router.send_multipart
        encode = reply_encoder.encode
        lists: dict[bytes, list[bytes]] = {}
        """Per client that sent lists, its replies from this batch: sent as one message."""
        position = 0
        for index in range(len(commands)):
            sender = senders[index] if index < len(senders) else None
            if index in refused:  # never sequenced: answered like a malformed request
                if sender is not None:
                    answer = encode(Reply(sender[1], 0, 0, [], error=refused[index]))
                    if sender[3]:
                        lists.setdefault(sender[0], []).append(answer)
                    else:
                        send([sender[0], answer])
                continue
            events = batch.events[position]
            if sender is not None:
                identity, request_id, received, in_list = sender
                stages = (started - received, match, replicate, journal)
                seq = batch.first_seq + position
                answer = encode(Reply(request_id, seq, event_seq, events, stages=stages))
                if in_list:
                    lists.setdefault(identity, []).append(answer)
                else:
                    send([identity, answer], copy=False)
            event_seq += len(events)
            position += 1
        for identity, answers in lists.items():
            send([identity, pack_list(answers)], copy=False)
        if not batch.commands:
            return
        self.publisher.publish(payload, batch)
        self._since_snapshot += len(commands)
        if self._since_snapshot >= self.config.snapshot_every and self.engine.snapshot():
            self._since_snapshot = 0
        self.engine.poll_snapshot()

    def _refuse(self, identity: bytes, frame: bytes, error: str) -> None:
        request_id = 0
        try:
            raw = msgspec.msgpack.decode(frame)
            if isinstance(raw, list) and raw and isinstance(raw[0], int):
                request_id = raw[0]
        except msgspec.DecodeError:
            pass
        self.router.send_multipart([identity, _refusal(request_id, error)])

    def _query(self, request_id: int, query: AccountQuery) -> bytes:
        """The encoded answer to a query, or an error reply if it cannot be answered."""
        try:
            reply = Reply(request_id, 0, 0, [], state=answer(self.engine.core, query))
            return reply_encoder.encode(reply)
        except Exception as error:
            log.exception("query %r failed", query)
            return _refusal(request_id, f"query failed ({error})")

    def serve(self) -> None:
        """Sequence until stopped, or (cluster) until leadership is lost."""
        try:
            self._serve()
        except NotReplicatedError as error:
            log.warning("stepping down: %s (%s)", error, error.__cause__)
            self.stepped_down = True

    def _serve(self) -> None:
        self._bootstrap()
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        router = self.router
        max_batch = self.config.max_batch
        clock = time.perf_counter_ns
        log.info(
            "engine up at seq %d: requests on %s, batches on %s",
            self.engine.last_seq,
            self.config.endpoint,
            self.config.publish,
        )
        while self.running:
            if self.leading is not None and not self.leading():
                log.warning("leadership lost: stepping down")
                self.stepped_down = True
                return
            commands: list[Command] = self._session()
            senders: list[Sender | None] = [None] * len(commands)
            if not commands and not poller.poll(50):
                continue
            while len(commands) < max_batch:
                try:
                    identity_frame, frame = router.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                except ValueError:  # not two frames
                    continue
                identity = identity_frame.bytes
                buffer = frame.buffer
                in_list = is_list(buffer)
                try:
                    requests = (
                        requests_decoder.decode(buffer)
                        if in_list
                        else [request_decoder.decode(buffer)]
                    )
                except msgspec.DecodeError as error:
                    self._refuse(identity, frame.bytes, f"malformed request: {error}")
                    continue
                role = frame.get("User-Id")  # the role of the CURVE key it came with
                received = clock()
                at_once: list[bytes] = []
                """Answers that need no batch (queries, refusals), sent with this message's."""
                for request in requests:
                    command = request.command
                    request_id = request.request_id
                    if type(command) is AccountQuery:
                        if role in QUERY_ROLES:
                            at_once.append(self._query(request_id, command))
                        else:
                            at_once.append(_refusal(request_id, f"not allowed for role {role}"))
                    elif not allowed(role, command):  # type: ignore[arg-type]
                        name = type(command).__name__
                        at_once.append(_refusal(request_id, f"{name} not allowed for role {role}"))
                    else:
                        commands.append(command)  # type: ignore[arg-type]
                        senders.append((identity, request_id, received, in_list))
                if at_once:
                    if in_list:
                        router.send_multipart([identity, pack_list(at_once)])
                    else:
                        router.send_multipart([identity, at_once[0]])
            if not commands:
                continue
            if self.leading is not None and not self.leading():
                log.warning("leadership lost: %d commands left unanswered", len(commands))
                self.stepped_down = True
                return
            self._run_batch(commands, senders)

    def close(self) -> None:
        self.engine.close()
        self.router.close()
        self.publisher.close()
        self.curve.stop()
        self.context.term()
        self.role.release()


def run_engine(
    config: EngineConfig,
    engine: JournaledCore | None = None,
    role: RoleLock | None = None,
    *,
    stop: Stop | None = None,
) -> int:
    """Serve until `stop` (SIGTERM or SIGINT by default; see exchange.lifecycle)."""
    try:
        server = EngineServer(config, engine, role)
    except RoleTakenError as error:
        log.error("%s: start it as a standby instead", error)
        return 1
    (stop or Stop.on_signals()).when_stopped(server.stop)
    try:
        with serving_journal(DataDir(config.data_dir).journal, config.journal_service, config.keys):
            server.serve()
    finally:
        server.close()
    log.info("engine stopped at seq %d", server.engine.last_seq)
    return 0
