"""SQLAlchemy engines for the exchange's own databases (SQLite by default, PostgreSQL by URL).

SQLite runs in WAL mode with synchronous=NORMAL: a commit is one append to
the write-ahead log without an fsync, which survives a crash of the process
(the data is in the OS page cache) and costs microseconds instead of
milliseconds. What must survive a crash of the machine is in the engine's
journal, from which every database here can be rebuilt or checked.
"""

from typing import Any

import sqlalchemy as sa


def create_engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine
