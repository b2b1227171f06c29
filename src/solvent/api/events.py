"""``GET /v1/events?since=SEQ``: the real-time engine's events (health changes, margin calls,
liquidations with their ADL fills, multiplier changes, feed faults) as it persisted them in the
ledger (table ``realtime_events``, docs/engine.md), oldest first, each ``{"seq", "tick", "time",
"kind", "account", "detail"}``. A client polls with the last ``seq`` it saw (``next``); the
WebSocket ``/v1/stream`` pushes the same events as they are written (``type`` = ``kind``).

An account key sees the events of its own margin unit (``account`` is the unit's top account:
its own, or its parent's for a cross sub-account) and the venue-wide ones (``account`` null).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from solvent.api.auth import Caller, event_audience, service_of
from solvent.api.errors import ERROR_RESPONSES
from solvent.realtime.checkpoint import load_events

router = APIRouter(prefix="/v1", tags=["events"], responses=ERROR_RESPONSES)
MAX_EVENTS = 1000
"""Most events one answer holds (page on with ``since=next``)."""


class EventOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    seq: int
    tick: int
    time: str
    kind: str
    account: str | None
    detail: dict[str, Any]


class EventsOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    events: list[EventOut]
    next: int


@router.get("/events", response_model=EventsOut, summary="Engine events since a sequence number")
def events(
    request: Request,
    caller: Caller,
    since: Annotated[
        int, Query(ge=0, le=2**62, description="Last seq seen (0: from the start).")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = MAX_EVENTS,
) -> JSONResponse:
    """Events with ``seq > since``, oldest first, at most ``limit``; ``next`` is the ``seq`` to
    ask from next time (the last one scanned)."""
    service = service_of(request)
    audience = event_audience(service, caller)
    found = load_events(service.ledger, service.event_stream, since, limit)
    shown = [
        e.to_json() for e in found if audience is None or e.account is None or e.account in audience
    ]
    return JSONResponse({"events": shown, "next": found[-1].seq if found else since})
