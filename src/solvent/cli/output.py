"""Shared rendering for the CLI: one JSON object on stdout; errors on stderr, non-zero exit."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import numpy as np

from solvent.cli import guard
from solvent.errors import SolventError

T = TypeVar("T")


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to print a non-finite number: {value}")
    return value


def emit_json(payload: dict[str, Any]) -> None:
    """Print ``payload`` as one JSON object on stdout (numbers stay JSON numbers)."""
    try:  # plain Python objects (what engine views give) need no conversion pass
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError):
        text = json.dumps(_to_jsonable(payload), allow_nan=False)
    sys.stdout.write(text)
    sys.stdout.write("\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code`` (non-zero)."""
    guard.fail(message, code)


def run_or_fail(action: Callable[[], T]) -> T:
    """Run ``action``; turn the engine's own errors (bad input, unreadable files: every loader
    reads through :mod:`solvent.files`) into one line on stderr and exit 2."""
    try:
        return action()
    except SolventError as exc:
        fail(str(exc))
