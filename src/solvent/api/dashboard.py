"""The dashboard: ``GET /`` serves a plain HTML page and ``/static/`` its script and style (no
build step). The page holds no data: it reads the API with the key the user gives it (kept in the
tab's session storage, or passed once as ``/#key=KEY``: a URL fragment never reaches the server)
and refreshes when ``/v1/stream`` reports a change.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
SECURITY_HEADERS = {
    # only this origin's script, style and connections (HTTP and WebSocket); no framing
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
    "img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter()


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    """The dashboard page."""
    return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


def mount_dashboard(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files at ``/static/``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
