"""Errors raised at the engine's boundaries.

Every error that bad input can cause is a :class:`SolventInputError` naming the offending field, so
the CLI can print one clear line and exit non-zero, and the API can answer 422, without any state
having been changed.
"""

from __future__ import annotations


def one_line(text: object) -> str:
    """``text`` (as ``str``) with every run of whitespace (newlines included) collapsed to one
    space: how every message reaches stderr."""
    return " ".join(str(text).split())


class SolventError(Exception):
    """Base class of every error the engine raises on purpose."""


class SolventInputError(SolventError, ValueError):
    """Bad input: names the offending field (a dotted path such as ``instruments[3].strike``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class StaleDataError(SolventInputError):
    """Market data that is too old, missing, or insufficient to produce a trustworthy number."""


class SolventJobError(SolventError):
    """A job that could not be completed for a reason other than its input (a shard lost on
    every retry, a cluster that cannot be reached). No partial result is returned; the CLI prints
    one line and exits 1 (``exit_code``)."""

    exit_code = 1

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


class PlanRefusedError(SolventJobError):
    """The ledger refused a step of the engine's own liquidation plan: the planner and the
    ledger's booking disagree (an internal inconsistency to report, not bad input). The steps
    booked before it stay booked, nothing of the refused step is written (the ledger audits
    clean); the CLI prints one line and exits 3 (``exit_code``)."""

    exit_code = 3


class SolventWarning(UserWarning):
    """Input accepted, but worth a word: names the field. The CLI prints each one as one line on
    stderr (``solvent: warning: field: message``) after a successful command."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def warn(field: str, message: str) -> None:
    """Issue a :class:`SolventWarning` about ``field``."""
    import warnings

    warnings.warn(SolventWarning(field, message), stacklevel=2)
