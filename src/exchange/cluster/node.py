"""`exchange engine --cluster`: one engine node of a cluster that etcd coordinates.

A node follows the replicated log until the leader key is free, campaigns,
and when it wins first applies whatever the log holds beyond its state
(every acknowledged batch is there: an append is acknowledged only after
etcd committed it), then serves as the engine with every batch appended to
the log, fenced by its epoch, before it is journaled and answered. When
its lease is lost or an append is refused, it stops answering at once,
rebuilds its state from its own journal (which holds only committed
batches) and follows again.

A log entry that is not signed with the cluster's log key is never applied:
the node logs it, stays where it is and never campaigns while the log
holds it (an operator deletes it as etcd's root), so a forged entry can
stop the cluster but never enter a journal. A leader key whose value is not
signed is deleted, and the node campaigns (lease.py).
"""

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from exchange.accounts.keyfile import InsecureKeyFileError, read_key
from exchange.cluster.etcd import Etcd, EtcdError, EtcdLogin, EtcdLoginError, EtcdTls
from exchange.cluster.follower import BehindWindowError, Follower, ForgedEntryError
from exchange.cluster.identity import ClusterIdMismatchError, join
from exchange.cluster.lease import LeaderInfo, LeaderLease, Leadership
from exchange.cluster.log import KEY_BYTES, FencedError, ReplicatedLog
from exchange.cluster.restore import NoPeerError, catch_up_from_peers, register
from exchange.engine.journal_service import serving_journal
from exchange.engine.journaled import JournaledCore, Replicate
from exchange.engine.layout import DataDir
from exchange.engine.role import RoleLock
from exchange.engine.server import EngineConfig, EngineServer
from exchange.lifecycle import Stop

log = logging.getLogger(__name__)


@dataclass
class ClusterConfig:
    etcd: str
    """etcd client URLs, comma-separated."""
    node: str
    """This node's name (unique in the cluster)."""
    prefix: bytes = b"/exchange/"
    lease_ttl: int = 1
    """Seconds; etcd raises it to 1.5 x its election timeout if lower."""
    window: int = 1_000_000
    """Commands the log keeps at most behind the leader, whatever the slowest node's progress."""
    retain: int = 10_000
    """Commands kept behind the slowest node anyway (a short tail to inspect and audit)."""
    append_deadline: float = 3.0
    """How long one append is retried through etcd trouble before the leader steps down."""
    etcd_ca: Path | None = None
    """CA that signed the etcd members' client-port certificates: TLS with it."""
    etcd_cert: Path | None = None
    """This node's client certificate for etcd (`--client-cert-auth`)."""
    etcd_key: Path | None = None
    """Its private key (a file only this user can read)."""
    etcd_server_name: str | None = None
    """The name every member's certificate carries (None: the first etcd endpoint's host).

    One gRPC channel serves all members, so it checks each against one name."""
    etcd_user: str | None = None
    """The etcd user this node logs in as (its role: read-write under `prefix` only)."""
    etcd_password_file: Path | None = None
    """The user's password (0600); without it, $EXCHANGE_ETCD_PASSWORD. Never on a command line."""
    log_key: Path | None = None
    """The 32-byte key that signs the log's entries: the same file on every node. Required."""

    def etcd_client(self) -> Etcd:
        tls = None
        https = any(url.strip().startswith("https://") for url in self.etcd.split(","))
        if self.etcd_ca or self.etcd_cert or https:
            tls = EtcdTls.from_files(self.etcd_ca, self.etcd_cert, self.etcd_key)
            tls = dataclasses.replace(tls, server_name=self.etcd_server_name)
        login = None
        if self.etcd_user:
            if self.etcd_password_file is not None:
                password = read_key(self.etcd_password_file, 1).decode().rstrip("\n")
            elif "EXCHANGE_ETCD_PASSWORD" in os.environ:
                password = os.environ["EXCHANGE_ETCD_PASSWORD"]
            else:
                raise ValueError(
                    f"etcd user {self.etcd_user!r} needs a password: --etcd-password-file "
                    "or $EXCHANGE_ETCD_PASSWORD"
                )
            login = EtcdLogin(self.etcd_user, password)
        if tls is None or login is None:
            missing = "TLS" if tls is None else "a login"
            log.warning("etcd without %s: its network must be trusted (review C2)", missing)
        return Etcd(self.etcd, tls=tls, login=login)

    def signing_key(self) -> bytes:
        if self.log_key is None:
            raise ValueError(
                "a cluster needs --log-key: a 32-byte key file (mode 0600), the same on every node"
            )
        return read_key(self.log_key, KEY_BYTES)


class Node:
    def __init__(self, engine: EngineConfig, cluster: ClusterConfig) -> None:
        self.engine_config = engine
        self.config = cluster
        key = cluster.signing_key()
        self.etcd = cluster.etcd_client()
        self.log = ReplicatedLog(self.etcd, cluster.prefix, key=key)
        info = LeaderInfo(cluster.node, engine.endpoint, engine.publish)
        self.lease = LeaderLease(
            self.etcd, cluster.prefix + b"leader", info, cluster.lease_ttl, signing_key=key
        )
        self.signing_key = key
        self.role = RoleLock(engine.data_dir)
        self.running = True
        self.server: EngineServer | None = None
        self.terms = 0
        """Times this node has led."""

    def stop(self) -> None:
        self.running = False
        if self.server is not None:
            self.server.stop()

    def run(self) -> int:
        if not self.role.try_acquire():
            log.error("another process uses %s", self.engine_config.data_dir)
            return 1
        try:
            cluster_id = None
            while cluster_id is None:
                if not self.running:
                    return 0
                try:
                    cluster_id = join(self.etcd, self.config.prefix, self.engine_config.data_dir)
                    if self.engine_config.journal_service:
                        register(
                            self.etcd,
                            self.config.prefix,
                            self.config.node,
                            self.engine_config.journal_service,
                        )
                except ClusterIdMismatchError as error:
                    log.error("node %s will not join: %s", self.config.node, error)
                    return 2
                except EtcdError as error:
                    log.warning("etcd: %s", _describe(error))
                    time.sleep(0.5)
            log.info("node %s of cluster %s", self.config.node, cluster_id)
            while self.running:
                follower = Follower(self.engine_config, self.log)
                try:
                    won = self._follow(follower)
                except BehindWindowError as error:
                    follower.close()
                    log.warning("%s: %s; catching up from a peer", self.config.node, error)
                    self._catch_up_from_peer()
                    continue
                if won is None:
                    follower.close()
                    return 0
                started = time.monotonic()
                try:
                    while follower.poll(complete=True):
                        pass  # everything the old leader got committed
                except (EtcdError, ForgedEntryError, BehindWindowError) as error:  # do not lead
                    log.warning("catch-up failed, resigning: %s", _describe(error))
                    follower.close()
                    self.lease.resign()
                    if isinstance(error, BehindWindowError):
                        self._catch_up_from_peer()
                    time.sleep(1.0 if isinstance(error, ForgedEntryError) else 0)
                    continue
                state = follower.state
                follower.close()
                log.info(
                    "%s leads at epoch %d from seq %d (caught up in %.3f s)",
                    self.config.node,
                    won.epoch,
                    state.last_seq,
                    time.monotonic() - started,
                )
                engine = JournaledCore(
                    self.engine_config.data_dir,
                    durability=self.engine_config.durability,
                    state=state,
                    replicate=self._appender(won.epoch),
                )
                self._lead(engine, won)
        finally:
            self.lease.resign()
            self.role.release()
            self.etcd.close()
        return 0

    def _follow(self, follower: Follower) -> Leadership | None:
        """Apply the log until this node wins the leader key (None: told to stop)."""
        last_check = last_report = 0.0
        reported = -1
        while self.running:
            try:
                applied = follower.poll()
                now = time.monotonic()
                if now - last_report > 0.2 and reported != follower.state.last_seq:
                    reported = follower.state.last_seq
                    self.log.report_progress(self.config.node, reported)
                    last_report = now
                if applied:
                    continue
                if now - last_check > 0.02:
                    last_check = now
                    current = self.lease.current(serializable=True)
                    if current is not None and not current[0].authentic(self.signing_key):
                        log.error("the leader key is not signed by this cluster: %s", current[0])
                        self.lease.evict(current[1])
                        current = None
                    if current is None:
                        won = self.lease.campaign()
                        if won is not None:
                            return won
            except EtcdError as error:
                log.warning("etcd: %s", _describe(error))
                time.sleep(0.1)
                continue
            except ForgedEntryError:  # logged; wait for an operator, never campaign meanwhile
                time.sleep(1.0)
                continue
            time.sleep(0.005)
        return None

    def _catch_up_from_peer(self) -> None:
        """Extend the journal from a peer's (restore.py), retried until one can or we stop."""
        engine = self.engine_config
        while self.running:
            try:
                catch_up_from_peers(
                    engine.data_dir,
                    self.etcd,
                    self.config.prefix,
                    self.config.node,
                    engine.keys.client("feed"),
                    engine.durability,
                )
                return
            except (NoPeerError, EtcdError) as error:
                log.warning("%s: %s; trying again", self.config.node, _describe(error))
                time.sleep(1.0)

    def _appender(self, epoch: int) -> Replicate:
        replicated = self.log
        lost = self.lease.lost
        deadline = self.config.append_deadline

        def replicate(first_seq: int, count: int, payload: bytes) -> None:
            give_up = time.monotonic() + deadline
            while True:
                try:
                    replicated.append(epoch, first_seq, count, payload)
                    return
                except EtcdError as error:
                    if lost.is_set() or time.monotonic() > give_up:
                        raise FencedError(f"append not confirmed: {_describe(error)}") from error
                    time.sleep(0.01)

        return replicate

    def _lead(self, engine: JournaledCore, won: Leadership) -> None:
        lost = self.lease.lost
        server = EngineServer(
            self.engine_config, engine, self.role, leading=lambda: not lost.is_set()
        )
        self.server = server
        self.terms += 1
        trimmer = _Trimmer(self, won.epoch, lambda: engine.last_seq)
        trimmer.start()
        try:
            server.serve()
        finally:
            trimmer.stop()
            server.close()
            self.server = None
            self.lease.resign()
        if server.stepped_down:
            log.warning("%s stepped down at seq %d", self.config.node, engine.last_seq)
            if not self.role.try_acquire():
                raise RuntimeError("lost the data directory's lock while stepping down")


class _Trimmer:
    """The leader's housekeeping: report progress, trim behind the slowest node, compact."""

    def __init__(self, node: Node, epoch: int, last_seq: Callable[[], int]) -> None:
        self.node = node
        self.epoch = epoch
        self.last_seq = last_seq
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-trimmer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        replicated = self.node.log
        name = self.node.config.node
        trimmed_to = 0
        while not self._stop.wait(1.0):
            try:
                last = self.last_seq()
                replicated.report_progress(name, last)
                progress = replicated.progress()
                slowest = min(progress.values(), default=last)
                config = self.node.config
                below = max(slowest - config.retain, last - config.window) + 1
                if below > trimmed_to + 1:
                    revision = replicated.trim(self.epoch, below)
                    trimmed_to = below - 1
                    self.node.etcd.compact(revision)
            except FencedError:
                return
            except EtcdError as error:
                log.warning("trimming: %s", _describe(error))


def _describe(error: Exception) -> str:
    code = getattr(error, "code", None)
    details = getattr(error, "details", None)
    if callable(code) and callable(details):
        return f"{code()}: {details()}"
    return str(error)


def run_node(engine: EngineConfig, cluster: ClusterConfig, stop: Stop) -> int:
    try:
        node = Node(engine, cluster)
    except (ValueError, OSError, InsecureKeyFileError) as error:  # missing or unsafe files
        log.error("cannot start node %s: %s", cluster.node, error)
        return 2
    stop.when_stopped(node.stop)
    try:
        with serving_journal(DataDir(engine.data_dir).journal, engine.journal_service, engine.keys):
            return node.run()
    except EtcdLoginError as error:  # a wrong password or user: retrying cannot help
        log.error("node %s: %s", cluster.node, error)
        return 2
