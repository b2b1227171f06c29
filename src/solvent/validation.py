"""Checks for values read from input files: each returns the value or raises
:class:`~solvent.errors.SolventInputError` naming the field, so no caller builds half an object.

JSON numbers only (a string such as ``"1.5"`` or a boolean is refused), finite, and in range.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from solvent.errors import SolventInputError, one_line

_SHOWN_CHARS = 40


def shown(value: object) -> str:
    """A short, one-line rendering of an input value for an error message: scalars by their
    ``repr`` (cut to 40 characters), containers by kind and size (never their whole content)."""
    if isinstance(value, dict):
        return f"an object of {len(value)} fields"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    item = getattr(value, "item", None)
    if (
        callable(item) and getattr(value, "ndim", None) == 0
    ):  # a numpy scalar: no np.float64(...) repr
        return shown(item())
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        text = f"an integer of {value.bit_length()} bits"
    else:
        text = repr(value)
    text = one_line(text)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def finite_number(value: object, field: str) -> float:
    """A finite JSON number (int or float, not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SolventInputError(field, f"must be a number, got {shown(value)}")
    try:
        out = float(value)
    except OverflowError:  # a JSON integer beyond the float range
        raise SolventInputError(field, f"must be finite, got {shown(value)}") from None
    if not math.isfinite(out):
        raise SolventInputError(field, f"must be finite, got {shown(value)}")
    return out


def positive_number(value: object, field: str) -> float:
    """A finite number > 0."""
    out = finite_number(value, field)
    if out <= 0:
        raise SolventInputError(field, f"must be > 0, got {shown(value)}")
    return out


def non_negative_number(value: object, field: str) -> float:
    """A finite number >= 0."""
    out = finite_number(value, field)
    if out < 0:
        raise SolventInputError(field, f"must be >= 0, got {shown(value)}")
    return out


def number_in_range(value: object, field: str, lo: float, hi: float) -> float:
    """A finite number in ``[lo, hi]``."""
    out = finite_number(value, field)
    if not lo <= out <= hi:
        raise SolventInputError(field, f"must be in [{lo}, {hi}], got {shown(value)}")
    return out


def iso_timestamp(value: object, field: str) -> datetime:
    """ISO 8601 timestamp with a timezone (``Z`` accepted) -> aware UTC datetime."""
    if not isinstance(value, str):
        raise SolventInputError(field, f"must be an ISO 8601 timestamp string, got {shown(value)}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SolventInputError(field, f"not an ISO 8601 timestamp: {shown(value)}") from None
    if parsed.tzinfo is None:
        raise SolventInputError(field, f"timestamp needs a timezone (e.g. Z): {shown(value)}")
    return parsed.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """The one timestamp form every output uses: ISO 8601 in UTC with a ``Z`` suffix
    (``2024-06-17T10:22:20.501000Z``; whole seconds print without a fraction)."""
    if moment.tzinfo is None:
        raise ValueError("iso_utc needs an aware datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
