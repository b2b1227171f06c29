"""In-memory caches of what every request looks up: API keys and account records.

Both hold only what never changes in the ledger once written, so a cached answer is only ever
*missing* something, never wrong, with one exception named below:

- :class:`KeyCache`: key digest -> :class:`~solvent.api.keys.Principal`. A known key is kept for
  ``ttl`` seconds (:data:`KEY_TTL_S`); an unknown key is never cached, so a key created by
  ``solvent key create`` (another process) works at once. The exception: a key deleted from the
  ``api_keys`` table (there is no revoke command; an operator deletes the row) keeps working for
  at most ``ttl`` seconds in a running service, or until :meth:`KeyCache.invalidate`.
- :class:`AccountCache`: account id -> :class:`~solvent.ledger.store.AccountRecord`, and root ->
  its family (itself and its sub-accounts), each kept ``ttl`` seconds (:data:`ACCOUNT_TTL_S`).
  Accounts are never changed or deleted; a sub-account created by another process joins its
  parent's family here within ``ttl`` (until then that parent's key is refused on it: 403, the
  safe side). Accounts created through the service invalidate the cache at once.

Thread-safe (endpoints run in a thread pool); bounded (the oldest entries are dropped).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from solvent.api.keys import KEY_PREFIX, MAX_KEY_LENGTH, Principal, find_key, key_digest
from solvent.ledger.store import AccountRecord, Ledger

KEY_TTL_S = 30.0
"""Seconds a known API key is trusted without asking the database again."""
ACCOUNT_TTL_S = 5.0
"""Seconds an account's record and its family are kept."""
MAX_ENTRIES = 100_000
"""Entries kept per cache (the least recently stored are dropped beyond)."""

V = TypeVar("V")


@dataclass
class _Expiring(Generic[V]):
    """A bounded map of values that expire ``ttl`` seconds after they were stored."""

    ttl: float
    clock: Callable[[], float] = time.monotonic
    max_entries: int = MAX_ENTRIES
    _items: OrderedDict[str, tuple[float, V]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str) -> V | None:
        now = self.clock()
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= now:
                del self._items[key]
                return None
            return item[1]

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._items[key] = (self.clock() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class KeyCache:
    """:func:`~solvent.api.keys.find_key` with known keys cached (see the module docstring)."""

    def __init__(
        self, ledger: Ledger, ttl: float = KEY_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ledger = ledger
        self._known: _Expiring[Principal] = _Expiring(ttl, clock)

    def find(self, key: str) -> Principal | None:
        """The principal of ``key`` (``None``: unknown or malformed)."""
        if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
            return None
        digest = key_digest(key)
        principal = self._known.get(digest)
        if principal is None:
            principal = find_key(self.ledger, key)
            if principal is not None:
                self._known.put(digest, principal)
        return principal

    def known(self, key: str) -> bool:
        """Whether ``key`` is cached as known (:meth:`find` then reads no database)."""
        return self._known.get(key_digest(key)) is not None

    def invalidate(self) -> None:
        """Forget every cached key (the next request of each asks the database)."""
        self._known.clear()


class AccountCache:
    """Account records and families (see the module docstring)."""

    def __init__(
        self,
        ledger: Ledger,
        ttl: float = ACCOUNT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self._records: _Expiring[AccountRecord] = _Expiring(ttl, clock)
        self._families: _Expiring[frozenset[str]] = _Expiring(ttl, clock)

    def account(self, account_id: str) -> AccountRecord:
        """The record of ``account_id``; an unknown account raises
        :class:`~solvent.errors.SolventInputError` naming ``account`` (never cached)."""
        record = self._records.get(account_id)
        if record is None:
            record = self.ledger.account(account_id)
            self._records.put(account_id, record)
        return record

    def family(self, root: str) -> frozenset[str]:
        """``root`` and its sub-accounts' ids."""
        family = self._families.get(root)
        if family is None:
            with self.ledger.transaction() as tx:
                family = frozenset(r.id for r in tx.family(root))
            self._families.put(root, family)
        return family

    def cached(self, principal: Principal, account_id: str) -> bool:
        """Whether deciding if ``principal`` sees ``account_id`` (and reading its record) needs
        no database read."""
        if self._records.get(account_id) is None:
            return False
        if principal.operator or principal.account is None:
            return True
        own = self._records.get(principal.account)
        return own is not None and (
            own.parent is not None or self._families.get(own.id) is not None
        )

    def invalidate(self) -> None:
        """Forget everything (an account was created)."""
        self._records.clear()
        self._families.clear()
