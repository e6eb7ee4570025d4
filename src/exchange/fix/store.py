"""Per-session sequence numbers and sent messages, in SQL, so resends survive a gateway restart.

One row per counterparty (its SenderCompID): the next sequence number
expected from it, the next one we send and the last engine event reported
to it. Every message we send is kept under its sequence number, to answer
ResendRequests: the application messages only (session messages are
gap-filled anyway), and only the last KEEP_SENT of them (older ones are
trimmed).

Writes are batched: `record_sent` and `set_next_in` only note what changed,
and `commit` writes all of it, for every session, in one transaction (one
statement per kind of row). The acceptor commits once per turn of its event
loop, before it writes that turn's messages to the sockets, so a message is
stored before it is sent (a resend after a crash finds it) while a busy
acceptor pays one commit for many messages: one commit per message was most
of its CPU (bench/RESULTS.md, 2026-12-08). The inbound sequence number is
persisted with the next commit, lazily: after a crash a counterparty may be
asked again for a few messages, which ClOrdIDs make harmless. Every read
commits what is pending first, so the store always reads its own writes.

This process is the store's only writer, so the rows of the sessions it
serves are mirrored in memory and written whole. The commit runs its two
statements on a connection of the driver's own (compiled once by
SQLAlchemy for the database in use, SQLite or PostgreSQL), without
SQLAlchemy's per-execution work: that was 280 us of CPU per commit, the
driver alone 60 us. With SQLite, copying the write-ahead log into the
database (a checkpoint, with its fsync) is not left to the commit that
happens to fill the log: `checkpoint` does it from a thread, so the event
loop never waits for the disk (on a busy host a commit's p99 was 9.7 ms
with automatic checkpoints, 2.2 ms without).
"""

import contextlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from exchange.database import create_engine
from exchange.migrations import FIX_SESSIONS

metadata = sa.MetaData()
sessions = sa.Table(
    "fix_sessions",
    metadata,
    sa.Column("comp_id", sa.String(64), primary_key=True),
    sa.Column("next_in", sa.BigInteger, nullable=False),
    sa.Column("next_out", sa.BigInteger, nullable=False),
    sa.Column("last_event", sa.BigInteger, nullable=False, default=0),
)
sent = sa.Table(
    "fix_sent",
    metadata,
    sa.Column("comp_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("msg_type", sa.String(4), nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
)


KEEP_SENT = 10_000
"""Sent application messages kept per counterparty for resends (older ones are gap-filled)."""
TRIM_EVERY = 1_000
MAX_PENDING = 1_000
"""Messages noted before a commit happens anyway (memory stays bounded between commits)."""

_INSERT_SENT = sent.insert()
_UPDATE_SESSION = (
    sessions.update()
    .where(sessions.c.comp_id == sa.bindparam("by_id"))
    .values(
        next_in=sa.bindparam("v_next_in"),
        next_out=sa.bindparam("v_next_out"),
        last_event=sa.bindparam("v_last_event"),
    )
)


class _Compiled:
    """A statement compiled once for the database's driver, run with `executemany`."""

    def __init__(self, statement: sa.Insert | sa.Update, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names: Sequence[str] | None = compiled.positiontup if compiled.positional else None

    def run(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        names = self.names
        cursor.executemany(
            self.sql, rows if names is None else [tuple(row[n] for n in names) for row in rows]
        )


@dataclass(frozen=True)
class Sent:
    seq: int
    msg_type: str
    raw: bytes


@dataclass
class _Row:
    """One session's row as this process last wrote (or will write) it."""

    next_in: int = 1
    next_out: int = 1
    last_event: int = 0


class SessionStore:
    def __init__(self, url: str, *, keep_sent: int = KEEP_SENT) -> None:
        self.engine = create_engine(url)
        self.keep_sent = keep_sent
        FIX_SESSIONS.require(self.engine)  # migrated before any service starts
        self._rows: dict[str, _Row] = {}
        """The rows of the sessions seen, in memory: this process is the only writer."""
        self._dirty: set[str] = set()
        self._sent: list[dict[str, object]] = []
        self._trim: dict[str, int] = {}
        """comp_id -> delete its kept messages up to this seq at the next commit."""
        self.commits = 0
        """Transactions that wrote something, since start."""
        self.messages = 0
        """Messages noted, since start (with `commits`: how many a commit carries)."""
        dialect = self.engine.dialect
        self._insert_sent = _Compiled(_INSERT_SENT, dialect)
        self._update_session = _Compiled(_UPDATE_SESSION, dialect)
        self._driver: Any = None
        """The driver's connection the commits run on (opened at the first)."""
        parsed = self.engine.url
        on_file = parsed.get_backend_name() == "sqlite" and parsed.database not in ("", ":memory:")
        self._sqlite_file = parsed.database if on_file else None

    # ------------------------------------------------------------- writes

    def _row(self, comp_id: str) -> _Row:
        """The session's row, read (or created) once."""
        row = self._rows.get(comp_id)
        if row is not None:
            return row
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(sessions.c.next_in, sessions.c.next_out, sessions.c.last_event).where(
                    sessions.c.comp_id == comp_id
                )
            ).first()
            if found is None:
                conn.execute(
                    sessions.insert().values(comp_id=comp_id, next_in=1, next_out=1, last_event=0)
                )
                row = _Row()
            else:
                row = _Row(found.next_in, found.next_out, int(found.last_event or 0))
        self._rows[comp_id] = row
        return row

    def set_next_in(self, comp_id: str, next_in: int) -> None:
        """The next inbound sequence number, persisted with the next commit (lazily)."""
        self._row(comp_id).next_in = next_in
        self._dirty.add(comp_id)

    def record_sent(
        self,
        comp_id: str,
        seq: int,
        msg_type: str,
        raw: bytes,
        last_event: int | None = None,
        *,
        keep: bool = True,
    ) -> None:
        """Note a message to send (`keep`: session-level ones are not kept) and move the
        outbound sequence past it; both are written together by the next `commit`.

        With `last_event`, the engine event the message reports is marked
        delivered in the same transaction: a report is sent exactly once.
        Every TRIM_EVERY messages, those older than the last `keep_sent` go:
        a ResendRequest for them is answered with a gap fill.
        """
        row = self._row(comp_id)
        self.messages += 1
        if keep:
            self._sent.append({"comp_id": comp_id, "seq": seq, "msg_type": msg_type, "raw": raw})
        if seq % TRIM_EVERY == 0 and seq > self.keep_sent:
            self._trim[comp_id] = seq - self.keep_sent
        row.next_out = seq + 1
        if last_event is not None:
            row.last_event = last_event
        self._dirty.add(comp_id)
        if len(self._sent) >= MAX_PENDING:
            self.commit()

    @property
    def pending(self) -> bool:
        return bool(self._dirty)

    def commit(self) -> None:
        """Write everything noted since the last commit, for every session, in one transaction."""
        if not self._dirty:
            return
        rows = self._rows
        updates = [
            {
                "by_id": comp_id,
                "v_next_in": rows[comp_id].next_in,
                "v_next_out": rows[comp_id].next_out,
                "v_last_event": rows[comp_id].last_event,
            }
            for comp_id in self._dirty
        ]
        if self._driver is None:
            self._driver = self.engine.raw_connection()
            if self._sqlite_file is not None:  # `checkpoint` copies the log, off the loop
                cursor = self._driver.cursor()
                cursor.execute("PRAGMA wal_autocheckpoint=0")
                cursor.close()
        driver = self._driver
        try:
            cursor = driver.cursor()
            if self._sent:
                self._insert_sent.run(cursor, self._sent)
            self._update_session.run(cursor, updates)
            cursor.close()
            driver.commit()
        except BaseException:
            self._driver = None  # a new connection next time; what is pending stays pending
            try:
                driver.rollback()
            finally:
                driver.invalidate()
            raise
        self._sent = []
        self._dirty = set()
        self.commits += 1
        trim, self._trim = self._trim, {}
        if trim:  # rare (every TRIM_EVERY messages): after, in a transaction of its own
            with self.engine.begin() as conn:
                for comp_id, through in trim.items():
                    conn.execute(
                        sent.delete().where(sent.c.comp_id == comp_id, sent.c.seq <= through)
                    )

    def checkpoint(self) -> tuple[int, int]:
        """Copy the SQLite write-ahead log into the database, without blocking the commits
        (PASSIVE); run it from a thread, every second or so. (Frames in the log, frames
        copied); (0, 0) for PostgreSQL, which has nothing to do."""
        if self._sqlite_file is None:
            return 0, 0
        with contextlib.closing(sqlite3.connect(self._sqlite_file, timeout=5)) as conn:
            _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(frames), int(copied)

    # -------------------------------------------------------------- reads

    def sequences(self, comp_id: str) -> tuple[int, int]:
        """(next expected inbound, next outbound); (1, 1) for a new counterparty."""
        self.commit()
        self._rows.pop(comp_id, None)  # read again: the database is the reference
        row = self._row(comp_id)
        return row.next_in, row.next_out

    def last_event(self, comp_id: str) -> int:
        """The last engine event reported to this counterparty (0: none yet)."""
        return self._row(comp_id).last_event

    def sent_between(
        self, comp_id: str, begin: int, end: int, limit: int | None = None
    ) -> list[Sent]:
        """Messages kept with begin <= seq <= end, in order (the first `limit` of them)."""
        self.commit()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(sent.c.seq, sent.c.msg_type, sent.c.raw)
                .where(sent.c.comp_id == comp_id, sent.c.seq >= begin, sent.c.seq <= end)
                .order_by(sent.c.seq)
                .limit(limit)
            )
            return [Sent(r.seq, r.msg_type, r.raw) for r in rows]

    def reset(self, comp_id: str) -> None:
        """Both sequences back to 1 (Logon with ResetSeqNumFlag), the kept messages dropped.

        Which engine events were reported is kept: a reset never repeats a report.
        """
        row = self._row(comp_id)
        self.commit()
        with self.engine.begin() as conn:
            conn.execute(sent.delete().where(sent.c.comp_id == comp_id))
            conn.execute(
                _UPDATE_SESSION,
                {"by_id": comp_id, "v_next_in": 1, "v_next_out": 1, "v_last_event": row.last_event},
            )
        row.next_in = row.next_out = 1

    def close(self) -> None:
        """Commit what is pending, then let the connections go."""
        try:
            self.commit()
        finally:
            if self._driver is not None:
                self._driver.close()
                self._driver = None
            self.engine.dispose()
