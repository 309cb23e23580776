"""Opening the SQLite database: WAL mode, migrations from `schema.py`, the
small key/value settings table, the file's permissions and the lock that
keeps one server per database."""
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeAlias

import sqlite_utils

from sync_server.storage.schema import MIGRATIONS

# What the storage functions accept: the raw connection or sqlite_utils' wrapper of it.
Db: TypeAlias = "sqlite3.Connection | sqlite_utils.Database"


def now_ms() -> int:
    """The current UTC time in milliseconds, as every table stores it."""
    return int(time.time() * 1000)


def raw_conn(db: Db) -> sqlite3.Connection:
    """The sqlite3 connection behind a sqlite_utils.Database, or `db` itself:
    storage functions take either."""
    return db.conn if isinstance(db, sqlite_utils.Database) else db


def row_dicts(cursor: sqlite3.Cursor) -> list[dict]:
    """The rows of an executed query as dicts keyed by column name."""
    cols = [d[0] for d in cursor.description]
    return [dict(zip(cols, r)) for r in cursor.fetchall()]


def utc_text(ms: int | None, missing: str = "-") -> str:
    """A stored time for command-line listings, e.g. 2026-11-23 12:30 UTC."""
    if not ms:
        return missing
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def connect(path: "str | os.PathLike[str]") -> sqlite3.Connection:
    """A raw sqlite3 connection in autocommit mode (explicit BEGIN/COMMIT),
    WAL, migrated. Ingest uses one of its own; the web app wraps one in
    sqlite-utils (`open_db`)."""
    create_private(path)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None,
                           check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    migrate(conn)
    return conn


def create_private(path: "str | os.PathLike[str]") -> None:
    """Create the database file readable and writable by its owner only
    (0600) if it does not exist: it holds the server's broker password and
    the kiosks' secret hashes. SQLite gives its -wal and -shm files the mode
    of the database file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class ServerRunning(Exception):
    """Another process serves this database; `holder` is its pid as it wrote it."""

    def __init__(self, lock_path: str, holder: str) -> None:
        super().__init__("%s is locked by process %s" % (lock_path, holder or "?"))
        self.lock_path = lock_path
        self.holder = holder


def server_lock(path: "str | os.PathLike[str]") -> TextIO:
    """Take the lock of the one server of the database at `path` (a file
    DB.lock beside it, holding the server's pid) and return the open lock
    file: the lock lasts as long as it stays open, and the system releases
    it when the process ends, however it ends. ServerRunning if another
    process holds it."""
    lock_path = os.path.realpath(str(path)) + ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    f = os.fdopen(fd, "r+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip()
        f.close()
        raise ServerRunning(lock_path, holder) from None
    f.seek(0)
    f.truncate()
    f.write("%d\n" % os.getpid())
    f.flush()
    return f


def copy_database(src: sqlite3.Connection, dest_path: str) -> None:
    """Copy the database of `src` into `dest_path` with SQLite's online backup
    API: a consistent copy while the server writes (a WAL reader never
    blocks the writer), made in one step so nothing it copies can change
    under it. A new file is created 0600; the copy is one self-contained
    file (journal mode DELETE, no -wal beside it)."""
    create_private(dest_path)
    dest = sqlite3.connect(dest_path, isolation_level=None)
    try:
        src.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        dest.close()


def check_copy(path: str) -> tuple[int, int]:
    """(schema version, votes) of a database copy after SQLite's integrity
    check; ValueError saying what is wrong if it is no sound Borne database."""
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    except sqlite3.Error as e:
        raise ValueError("cannot open %s: %s" % (path, e)) from None
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise ValueError("%s fails SQLite's integrity check: %s" % (path, ok))
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if not version:
            raise ValueError("%s is not a Borne database" % path)
        if version > MIGRATIONS[-1][0]:
            raise ValueError("%s was made by a newer version of Borne (schema %d, this one knows"
                             " %d)" % (path, version, MIGRATIONS[-1][0]))
        votes = conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise ValueError("%s is not a sound database: %s" % (path, e)) from None
    finally:
        conn.close()
    return version, votes


def open_db(path: "str | os.PathLike[str]") -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database at `path`."""
    return sqlite_utils.Database(connect(path))


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on a raw connection; ROLLBACK on any error.
    IMMEDIATE takes the write lock at once, so two writers never deadlock
    upgrading a read lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def savepoint(conn: sqlite3.Connection, name: str = "sp") -> Iterator[sqlite3.Connection]:
    """Inside a transaction: undo what the block wrote if it raises (the
    exception goes on), keep it otherwise."""
    conn.execute("SAVEPOINT " + name)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK TO " + name)
        conn.execute("RELEASE " + name)
        raise
    conn.execute("RELEASE " + name)


def migrate(conn: sqlite3.Connection) -> None:
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for version, _name, script in MIGRATIONS:
        if version <= current:
            continue
        # executescript would commit on its own; one transaction per
        # migration leaves the previous version intact if it fails.
        with transaction(conn):
            # Another process may have migrated while we waited for the lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                continue
            for statement in split_sql(script):
                conn.execute(statement)
            conn.execute("PRAGMA user_version=%d" % version)


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (no ';' inside literals)."""
    out = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line.split("--", 1)[0] + ("\n" if "--" in line else "")
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def set_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def get_setting(conn: Db, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def setting_once(conn: Db, key: str, make: Callable[[], str]) -> str:
    """Return the setting `key`, storing `make()` first if it is absent
    (race-free between processes: the first writer wins)."""
    conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)", (key, make()))
    value = get_setting(conn, key)
    assert value is not None  # just inserted, or there before
    return value
