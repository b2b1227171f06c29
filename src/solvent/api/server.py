"""Run the application under uvicorn until SIGINT or SIGTERM, then stop cleanly and return.

On a signal uvicorn stops accepting connections, lets the requests in flight finish and runs the
application's shutdown (the tick in progress finishes, the ledger is flushed and closed). Uvicorn
itself re-raises the signal once it has stopped, which would end the process with the signal's
status; :class:`GracefulServer` does not, so ``solvent serve`` exits 0 after a requested stop.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from fastapi import FastAPI

from solvent.errors import SolventInputError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_SECONDS = 10
"""How long requests in flight may take to finish after a stop signal."""


class GracefulServer(uvicorn.Server):
    """A uvicorn server whose stop signals end :meth:`run` normally (see the module docstring)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._stop) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        self.handle_exit(sig, frame)


def serve_forever(app: FastAPI, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until a stop signal; returns after a clean shutdown."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        lifespan="on",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    server = GracefulServer(config)
    try:
        server.run()
    except SystemExit:  # uvicorn exits 1 when it cannot bind
        server.started = False
    if not server.started:
        raise SolventInputError("port", f"cannot listen on {host}:{port} (see the log above)")
