"""Database engines for the ledger: SQLite (embedded, durable) and PostgreSQL, plus migrations.

SQLite: WAL journal, ``synchronous=FULL`` (fsync on every commit), foreign keys on, and every
transaction opened with ``BEGIN IMMEDIATE`` so that a writer takes the database's single write lock
before it reads the balances it is going to check (the single-writer discipline: no two writers can
both see the same balance and both spend it). PostgreSQL: READ COMMITTED with explicit row locks
(``SELECT ... FOR UPDATE`` on the accounts an operation debits, see :mod:`solvent.ledger.store`).
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError

from solvent.errors import SolventInputError

DEFAULT_URL = "sqlite:///solvent.db"


def default_url() -> str:
    """``$SOLVENT_DB`` if set, else ``sqlite:///solvent.db`` (docs/formats.md 9)."""
    return os.environ.get("SOLVENT_DB") or DEFAULT_URL


def require_existing(url: str | None = None, field: str = "db") -> None:
    """Refuse an SQLite ``url`` (default :func:`default_url`) whose file does not exist: opening
    one creates an empty ledger, so a command that only reads (a solvency publication, an audit)
    given a mistyped path would sign or vouch for a ledger that is not the venue's. Other
    databases (PostgreSQL, in-memory SQLite) are not checked here."""
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # open_engine names the bad URL
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    folder = os.path.dirname(os.path.abspath(parsed.database))
    if os.path.isdir(folder) and not os.path.exists(parsed.database):  # (no folder: see migrate)
        raise SolventInputError(
            field,
            f"no ledger at {parsed.database!r} (this command reads a ledger and never creates "
            "one: check the --db path or $SOLVENT_DB)",
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let us issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = "solvent_read_only"
"""Execution option of a connection whose transactions only read (:meth:`Ledger.reading`)."""


def _sqlite_begin(connection: Any) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")  # deferred: a read snapshot, no write lock
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default :func:`default_url`), configured for durable ledger writes."""
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SolventInputError("db", f"{url!r} is not an SQLAlchemy database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        return create_engine(parsed, isolation_level="READ COMMITTED", pool_pre_ping=True)
    raise SolventInputError("db", f"unsupported database {backend!r} (sqlite or postgresql)")


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the package's migrations and ``engine``."""
    config = Config()
    location = resources.files("solvent.ledger").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent). This is the first connection to
    the database: one that cannot be made (no server, a missing folder, a file that is not a
    database) is refused as bad ``--db`` input, naming the URL (its password hidden)."""
    try:
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        url = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc.code
        raise SolventInputError("db", f"cannot open the ledger database {url}: {reason}") from None


def is_initialised(engine: Engine) -> bool:
    """Whether the ledger tables exist in the database."""
    return "entries" in inspect(engine).get_table_names()
