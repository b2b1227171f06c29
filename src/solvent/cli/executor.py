"""The ``--executor local|ray [--ray-address ADDRESS]`` options of the commands that can scale
out (docs/formats.md 13, docs/scale-out.md), and the executor they open.

``local`` (the default) runs in this process, on exactly the path without the option; ``ray``
runs the heavy step on a Ray cluster: the one at ``--ray-address``, or a single-node Ray started
on 127.0.0.1 for the command and stopped with it. Results are the same, bit for bit.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from solvent.executors import Executor, ExecutorKind, open_executor

ExecutorOption = Annotated[
    ExecutorKind,
    typer.Option(
        "--executor",
        help="Where to run: local (this process) or ray (a Ray cluster; docs/scale-out.md).",
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Join this Ray cluster (auto, HOST:PORT or ray://HOST:10001); default with "
        "--executor ray: start a local one for this command.",
    ),
]


@contextmanager
def executor_for(kind: ExecutorKind, address: str | None) -> Iterator[Executor | None]:
    """``None`` for the local executor (the engine's in-process path, unchanged), else the Ray
    executor, closed (a cluster it started is stopped) when the block ends."""
    executor = open_executor(kind, address)
    if executor.kind is ExecutorKind.LOCAL:
        yield None
        return
    # Ray prints worker failures (and retries) from a background thread on stdout: send them to
    # stderr while the cluster is in use, so that stdout carries only the command's JSON.
    with contextlib.redirect_stdout(sys.stderr), executor:
        yield executor
