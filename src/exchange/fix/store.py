"""Per-session sequence numbers and sent messages, in SQL, so resends survive a gateway restart.

One row per counterparty (its SenderCompID): the next sequence number
expected from it and the next one we send. Every message we send is kept
under its sequence number, to answer ResendRequests: the application
messages only (session messages are gap-filled anyway), and only the last
KEEP_SENT of them (older ones are trimmed as new ones are sent). A message
is stored before it is written to the socket.

This is on the path of every message, so the statements of that path are
built once, with bound parameters (SQLAlchemy then reuses their compiled
form), and the last reported engine event, which only this process
writes, is also kept in memory: building the statements per message and
reading that value back per report were 60 % of the FIX acceptor's time
under load (bench/RESULTS.md).
"""

import functools
from dataclasses import dataclass

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


_KEEP_SENT = sent.insert()
KEEP_SENT = 10_000
"""Sent application messages kept per counterparty for resends (older ones are gap-filled)."""
TRIM_EVERY = 1_000


@functools.cache
def _update(columns: tuple[str, ...]) -> sa.Update:
    """UPDATE of these columns of one session, built once (bound as `by_id`, `v_<column>`)."""
    return (
        sessions.update()
        .where(sessions.c.comp_id == sa.bindparam("by_id"))
        .values({column: sa.bindparam(f"v_{column}") for column in columns})
    )


@dataclass(frozen=True)
class Sent:
    seq: int
    msg_type: str
    raw: bytes


class SessionStore:
    def __init__(self, url: str, *, keep_sent: int = KEEP_SENT) -> None:
        self.engine = create_engine(url)
        self.keep_sent = keep_sent
        FIX_SESSIONS.require(self.engine)  # migrated before any service starts
        self._last_event: dict[str, int] = {}
        """Written through on every report: this process is the only writer."""

    def sequences(self, comp_id: str) -> tuple[int, int]:
        """(next expected inbound, next outbound); (1, 1) for a new counterparty."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions.c.next_in, sessions.c.next_out).where(
                    sessions.c.comp_id == comp_id
                )
            ).first()
        return (row.next_in, row.next_out) if row else (1, 1)

    def _upsert(self, conn: sa.Connection, comp_id: str, **values: int) -> None:
        """Update the session's row (the usual case, a prepared statement), else insert it."""
        parameters = {"by_id": comp_id, **{f"v_{column}": v for column, v in values.items()}}
        updated = conn.execute(_update(tuple(sorted(values))), parameters)
        if updated.rowcount == 0:
            conn.execute(
                sessions.insert().values(comp_id=comp_id, **{"next_in": 1, "next_out": 1, **values})
            )

    def set_next_in(self, comp_id: str, next_in: int) -> None:
        with self.engine.begin() as conn:
            self._upsert(conn, comp_id, next_in=next_in)

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
        """Keep a sent message (`keep`: session-level ones are not) and move the outbound
        sequence past it, atomically.

        With `last_event`, the engine event the message reports is marked
        delivered in the same transaction: a report is sent exactly once.
        Every TRIM_EVERY messages, those older than the last `keep_sent` go:
        a ResendRequest for them is answered with a gap fill.
        """
        with self.engine.begin() as conn:
            if keep:
                conn.execute(
                    _KEEP_SENT, {"comp_id": comp_id, "seq": seq, "msg_type": msg_type, "raw": raw}
                )
            if seq % TRIM_EVERY == 0 and seq > self.keep_sent:
                conn.execute(
                    sent.delete().where(
                        sent.c.comp_id == comp_id, sent.c.seq <= seq - self.keep_sent
                    )
                )
            if last_event is None:
                self._upsert(conn, comp_id, next_out=seq + 1)
            else:
                self._upsert(conn, comp_id, next_out=seq + 1, last_event=last_event)
        if last_event is not None:
            self._last_event[comp_id] = last_event

    def last_event(self, comp_id: str) -> int:
        """The last engine event reported to this counterparty (0: none yet)."""
        known = self._last_event.get(comp_id)
        if known is not None:
            return known
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sessions.c.last_event).where(sessions.c.comp_id == comp_id)
            ).scalar()
        self._last_event[comp_id] = int(value or 0)
        return self._last_event[comp_id]

    def sent_between(
        self, comp_id: str, begin: int, end: int, limit: int | None = None
    ) -> list[Sent]:
        """Messages kept with begin <= seq <= end, in order (the first `limit` of them)."""
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
        with self.engine.begin() as conn:
            conn.execute(sent.delete().where(sent.c.comp_id == comp_id))
            self._upsert(conn, comp_id, next_in=1, next_out=1)

    def close(self) -> None:
        self.engine.dispose()
