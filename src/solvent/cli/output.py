"""Shared rendering for the CLI: one JSON object on stdout; errors on stderr, non-zero exit.

Commands do not catch the engine's errors: :class:`solvent.cli.guard.OneLineErrors` turns every
:class:`~solvent.errors.SolventError` into one line on stderr and exit 2, for every command."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, NoReturn

import numpy as np

from solvent.cli import guard


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
