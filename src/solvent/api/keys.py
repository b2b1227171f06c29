"""API keys: issued once, stored only as a SHA-256 digest in the ledger database.

A key is ``sk_`` followed by 43 URL-safe characters (32 random bytes from :mod:`secrets`, 256 bits),
so a plain SHA-256 of it is as hard to invert as guessing the key: no salt or slow hash is needed
(those protect low-entropy passwords). The table ``api_keys`` (migration ``0004_api_keys``) holds
the digest, the key's first characters (``prefix``, to name a key in logs without revealing it),
and its scope: one user account (which also sees that account's sub-accounts) or the operator
(sees everything). Lookups compare digests (the database index finds the row; equal digests imply
equal keys).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select

from solvent.errors import SolventInputError
from solvent.ledger import schema
from solvent.ledger.model import AccountKind
from solvent.ledger.store import Ledger

KEY_PREFIX = "sk_"
PREFIX_SHOWN = 10
"""Characters of a key kept in clear (``prefix``): ``sk_`` and 7 random ones."""
MAX_KEY_LENGTH = 256
"""Longer ``Authorization`` values are refused before hashing."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: the operator (``account is None``) or one user account.

    ``key_id`` is the key's row id (rate limits and logs use it, never the key)."""

    key_id: int
    account: str | None
    operator: bool
    prefix: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key as created: ``key`` is shown this once and never stored."""

    key: str
    principal: Principal


def key_digest(key: str) -> str:
    """Lowercase hex SHA-256 of ``key`` (UTF-8): what the database stores."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(ledger: Ledger, account: str | None) -> IssuedKey:
    """Issue a key for user ``account`` (it sees that account and its sub-accounts), or for the
    operator when ``account`` is ``None``. Unknown and non-user accounts are refused naming
    ``account``; nothing is written then."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with ledger.transaction() as tx:
        if account is not None:
            record = tx.account(account)
            if record.kind is not AccountKind.USER:
                raise SolventInputError(
                    "account", f"{account!r} is one of the venue's own accounts: use --operator"
                )
        row = tx.connection.execute(
            insert(schema.api_keys)
            .values(
                key_hash=key_digest(key),
                prefix=key[:PREFIX_SHOWN],
                account_id=account,
                operator=account is None,
                created_at=datetime.now(UTC),
            )
            .returning(schema.api_keys.c.id)
        ).scalar_one()
    return IssuedKey(key, Principal(int(row), account, account is None, key[:PREFIX_SHOWN]))


def find_key(ledger: Ledger, key: str) -> Principal | None:
    """The principal of ``key``, or ``None`` for an unknown (or malformed) key."""
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
        return None
    t = schema.api_keys
    with ledger.engine.connect() as conn:
        row = conn.execute(
            select(t.c.id, t.c.account_id, t.c.operator, t.c.prefix).where(
                t.c.key_hash == key_digest(key)
            )
        ).first()
    if row is None:
        return None
    return Principal(int(row.id), row.account_id, bool(row.operator), row.prefix)
