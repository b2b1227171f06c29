"""``/v1/stream``: a WebSocket of health changes and liquidation events, filtered by key.

Authentication: an ``Authorization: Bearer KEY`` header on the upgrade request, or (browsers
cannot set headers on a WebSocket) a first message ``{"type": "auth", "key": KEY}`` within
:data:`AUTH_SECONDS`. A refused key gets one error message, then the socket is closed with code
4401 (no or unknown key) or 4429 (rate limit). Then the server sends ``{"type": "hello",
"account", "operator"}`` and every event the key may see, as JSON objects with ``type``
(``health``, ``margin_call``, ``liquidation``, ``multiplier``, ``feed_fault``, ``market``) and
``stream_seq``; the real-time engine's events also carry their own ``seq`` (docs/api.md). A
client that does not keep up loses its oldest events, never the connection. When the service
stops, the socket is closed with 1001 (going away).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from solvent.api.auth import authenticate, event_audience, service_of_app
from solvent.api.errors import ApiError
from solvent.api.keys import Principal
from solvent.api.state import Service

router = APIRouter()
AUTH_SECONDS = 10.0
"""How long a client has to send its key after connecting."""
CLOSE_CODES = {401: 4401, 403: 4403, 429: 4429}


async def _key(ws: WebSocket) -> str | None:
    """The key from the upgrade's ``Authorization`` header or the first message."""
    header = ws.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    try:
        first = await asyncio.wait_for(ws.receive_text(), AUTH_SECONDS)
    except (TimeoutError, WebSocketDisconnect, KeyError):
        return None
    try:
        message: Any = json.loads(first)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("type") == "auth":
        key = message.get("key")
        return key if isinstance(key, str) else None
    return None


async def _login(ws: WebSocket, service: Service) -> Principal | None:
    key = await _key(ws)
    try:
        return await run_in_threadpool(authenticate, service, key)
    except ApiError as exc:
        await ws.send_json({"type": "error", "error": {"field": exc.field, "message": exc.message}})
        await ws.close(CLOSE_CODES.get(exc.status, 4400))
        return None


@router.websocket("/v1/stream")
async def stream(ws: WebSocket) -> None:
    """See the module docstring."""
    service = service_of_app(ws.app)
    await ws.accept()
    principal = await _login(ws, service)
    if principal is None:
        return
    visible = await run_in_threadpool(event_audience, service, principal)
    sub = service.hub.subscribe(principal, visible)
    listener = asyncio.create_task(_drain(ws))
    try:
        await ws.send_json(
            {"type": "hello", "account": principal.account, "operator": principal.operator}
        )
        while True:
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({getter, listener}, return_when=asyncio.FIRST_COMPLETED)
            if listener in done:  # the client left
                getter.cancel()
                return
            event = getter.result()
            if event is None:  # the service is stopping
                await ws.close(1001)
                return
            await ws.send_json(event.body)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        listener.cancel()
        service.hub.unsubscribe(sub)


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends until it disconnects."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
