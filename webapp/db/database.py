"""The database's one owner: its connections, its migrations, and the one write discipline that
every writer (the history store, the accounts) follows."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The key of the PostgreSQL advisory lock that replicas starting at once take in turn
# ("r1chat-m" as a 64-bit number); any fixed number would do, as long as every replica uses it.
STARTUP_LOCK = 0x7231636861742D6D
BUSY_TIMEOUT_MS = 5_000  # how long a SQLite write waits for another process's
STARTUP_WAIT_MS = 300_000  # how long a starting replica waits for another's migration
# SQLite connections kept open: more than the threads that may use the database at once (the
# event loop's, asyncio's to_thread pool, Gradio's workers). Past the pool, a connection is
# opened for one use and closed again, its setup (the PRAGMAs) paid every time.
POOL_SIZE = 32


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # concurrent writers wait instead of failing
    _enter_wal(cursor)  # readers never wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")  # deleting a conversation deletes its messages
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough in WAL mode, much faster
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so), waiting out another process's first write.

    A new file is in WAL mode once its first write commits. Until then, a second process
    (a replica started at the same moment, migrating the same file) asking for WAL while the
    first writes gets "database is locked" at once: SQLite skips the busy timeout where
    waiting could deadlock. So it is asked again, as long as the busy timeout would wait.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_sql_engine(url: str) -> Engine:
    """SQLAlchemy's engine for `url`; SQLite files get their directory, WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        sql = create_engine(url, connect_args={"check_same_thread": False}, pool_size=POOL_SIZE)
        event.listen(sql, "connect", _sqlite_pragmas)
        return sql
    return create_engine(url, pool_pre_ping=True)


def migrate(sql: Engine) -> None:
    """Bring the schema to the newest migration.

    Replicas starting at once against one database take turns: each migrates under a lock held
    until its transaction commits, so the later ones find the schema current and do nothing.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with sql.begin() as connection:
        hold_startup_lock(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def hold_startup_lock(connection: Connection) -> None:
    """Hold this database's startup lock until the transaction ends: replicas starting at once take turns."""
    backend = connection.dialect.name
    if backend == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})
    elif backend == "sqlite":
        # pysqlite opens no transaction before DDL, so two processes would both create the tables:
        # take the write lock now. The other waits for it longer than for a write: a migration
        # may take a while (indexing a big history for search, on a busy machine).
        connection.exec_driver_sql(f"PRAGMA busy_timeout={STARTUP_WAIT_MS}")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class Database:
    """Reads run side by side; writes go one at a time through `writing()` or `transaction()`.

    SQLite takes one writer at a time, and a writer that finds the file locked sleeps 1, 2, 5,
    10... ms before it tries again: this process's writers queue on a lock instead. PostgreSQL
    needs no such lock.
    """

    def __init__(self, sql: Engine) -> None:
        self.sql = sql
        self._sessions = sessionmaker(sql, expire_on_commit=False)
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if sql.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    @classmethod
    def at(cls, url: str) -> Database:
        return cls(create_sql_engine(url))

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.sql.dialect.name

    def migrate(self) -> None:
        migrate(self.sql)

    def close(self) -> None:
        self.sql.dispose()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """An ORM session for reads (nothing it changes is committed)."""
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """An ORM session whose changes commit together at the end, this process's writers in turn."""
        with self._write_lock, self._sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection for reads (statements built once run faster without the ORM)."""
        with self.sql.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection whose statements commit together at the end, this process's writers in turn."""
        with self._write_lock, self.sql.begin() as connection:
            yield connection
