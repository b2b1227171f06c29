"""Request limits: a token bucket per API key, and a cap on request bodies.

Rate limit: each key holds a bucket of ``burst`` tokens refilled at ``rate`` tokens per second; a
request takes one token or is refused with 429 and ``Retry-After`` (seconds until a token is
there). Buckets live in the serving process (one ``solvent serve`` owns its ledger's API).

Body size: :class:`BodyLimit` is an ASGI middleware that refuses a body longer than
``max_bytes`` with 413, from its ``Content-Length`` before reading anything, or while a chunked
body streams in; it also refuses a JSON body that :func:`solvent.files.loads_json` refuses
(duplicate keys, nesting deeper than the loaders allow, which would otherwise overflow the
parser's stack) with 422 before any endpoint runs.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from solvent.api.errors import ApiError, error_response
from solvent.errors import SolventInputError
from solvent.files import loads_json


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token buckets per key id: ``rate`` requests per second sustained, ``burst`` at once."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[int, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise SolventInputError("rate_limit", "must be a positive number of requests per s")
        if self.burst < 1:
            raise SolventInputError("burst", "must be at least 1")

    def take(self, key_id: int) -> None:
        """Spend one token of ``key_id``'s bucket, or raise 429 with ``Retry-After``."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / self.rate
        raise ApiError(
            429,
            "authorization",
            f"rate limit of this key exceeded ({self.rate:g} requests/s, burst {self.burst})",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )


class BodyLimit:
    """ASGI middleware: bodies above ``max_bytes`` get 413; malformed JSON bodies 422."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        length = headers.get("content-length")
        too_large = error_response(413, "body", f"request body larger than {self.max_bytes} bytes")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0:
                await error_response(400, "content-length", "not a byte count")(
                    scope, receive, send
                )
                return
            if declared > self.max_bytes:
                await too_large(scope, receive, send)
                return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > self.max_bytes:
                await too_large(scope, receive, send)
                return
        if body and "json" in headers.get("content-type", b"").decode("latin-1").lower():
            refusal = _json_refusal(bytes(body))
            if refusal is not None:
                await error_response(422, "body", refusal)(scope, receive, send)
                return
        await self.app(
            scope, _replay([{"type": "http.request", "body": bytes(body)}], receive), send
        )


def _json_refusal(body: bytes) -> str | None:
    """Why ``body`` is not acceptable JSON (the loaders' rules), or ``None``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "request body is not UTF-8"
    try:
        loads_json(text, "body", "request body")
    except SolventInputError as exc:
        return exc.message
    return None


def _replay(messages: list[Message], then: Receive) -> Receive:
    """A ``receive`` that hands out ``messages`` once, then the connection's own messages (the
    disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive
