"""The HTTP application (FastAPI): routers, limits, error handling and the service's lifetime.

:func:`create_app` wires a :class:`~solvent.api.state.Service` into an ASGI application; tests
drive it in process, ``solvent serve`` runs it under uvicorn (:mod:`solvent.api.server`). The
OpenAPI schema is published at ``/openapi.json``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import Depends, FastAPI

from solvent.api import accounts, events, insurance, market, solvency, stream, venues
from solvent.api.dashboard import mount_dashboard
from solvent.api.errors import install_error_handlers, refuse_unknown_query
from solvent.api.limits import BodyLimit
from solvent.api.state import Service

DESCRIPTION = """\
Solvent's clearing and risk service: accounts, money movements and pre-trade checks on the exact
ledger, margin under every model, the market and its volatility surfaces, liquidation events and a
live stream. Authenticate with `Authorization: Bearer KEY` (`solvent key create`). Errors are
`{"error": {"field", "message"}}`; bad input is 422 and changes nothing. See docs/api.md.
"""


def create_app(service: Service) -> FastAPI:
    """The application serving ``service`` (closed when the application shuts down)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.hub.bind(asyncio.get_running_loop())
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        dependencies=[Depends(refuse_unknown_query)],
        title="Solvent",
        version=version("solvent"),
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(accounts.router)
    app.include_router(market.router)
    app.include_router(events.router)
    app.include_router(solvency.router)
    app.include_router(insurance.router)
    app.include_router(stream.router)
    app.include_router(venues.router)
    mount_dashboard(app)
    app.add_middleware(BodyLimit, max_bytes=service.config.max_body)
    return app
