"""Solvency for the edges (CLI and HTTP API): publish a snapshot, verify a proof file, and the
JSON views of FORMATS 11 (``solvent solvency publish|verify``).

The verifying itself is :mod:`solvent.solvency.verifier` (Solvent's format) and
:mod:`solvent.solvency.bybit` (Bybit's layout), both standalone; this module reads the files
through :mod:`solvent.files` (so bad files fail like every other input) and renders the verdict.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from solvent.errors import SolventInputError
from solvent.files import read_json
from solvent.solvency import bybit, verifier

DEFAULT_MAX_AGE_SECONDS = 86_400.0
"""How old a header may be for ``verify`` by default (one day): an older snapshot says little about
the venue today (pass a larger ``--max-age`` to check an archived proof)."""


class ProofFormat(StrEnum):
    """The layouts ``verify`` reads."""

    SOLVENT = "solvent"
    BYBIT = "bybit"


def verify_files(
    proof: str | Path,
    *,
    header: str | Path | None = None,
    proof_format: ProofFormat = ProofFormat.SOLVENT,
    root: str | None = None,
    previous: str | Path | None = None,
    public_key: str | None = None,
    max_age_seconds: float | None = DEFAULT_MAX_AGE_SECONDS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify the proof file ``proof``; returns the FORMATS 11 verdict (see :func:`verdict_json`).
    Unreadable files raise :class:`SolventInputError`; a readable file that is not a valid proof
    gives ``valid: false``."""
    document = read_json(proof, "proof")
    if proof_format is ProofFormat.BYBIT:
        if header is not None or previous is not None:
            raise SolventInputError("header", "a Bybit proof carries its root: no --header")
        return bybit_verdict_json(bybit.verify_bybit(document, root=root))
    if header is None:
        raise SolventInputError("header", "--header is required for Solvent's own proofs")
    verdict = verifier.verify_proof(
        document,
        read_json(header, "header"),
        previous=None if previous is None else read_json(previous, "previous"),
        root=root,
        public_key=public_key,
        now=now,
        max_age_seconds=max_age_seconds,
    )
    return verdict_json(verdict)


def verdict_json(verdict: verifier.Verdict) -> dict[str, Any]:
    """``{"valid", "account", "balances", "debts", "root", "checks": [{"name", "ok",
    "detail"}], "reason", "format"}``; balances and debts in base units per asset."""
    return {
        "valid": verdict.valid,
        "format": ProofFormat.SOLVENT.value,
        "account": verdict.account,
        "balances": verdict.balances,
        "debts": verdict.debts,
        "root": verdict.root,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks],
        "reason": verdict.reason,
    }


def bybit_verdict_json(verdict: bybit.Verdict) -> dict[str, Any]:
    """As :func:`verdict_json`; ``account`` is the leaf's ``userHash``, ``balances`` the decimal
    strings as hashed, ``layout`` the asset enum used, and checks flagged ``weakness`` name what
    the format cannot prove (``ok`` false, not counted in ``valid``)."""
    return {
        "valid": verdict.valid,
        "format": ProofFormat.BYBIT.value,
        "layout": verdict.layout,
        "account": verdict.account,
        "balances": verdict.balances,
        "root": verdict.root,
        "checks": [
            {"name": c.name, "ok": c.ok, "detail": c.detail, "weakness": c.weakness}
            for c in verdict.checks
        ],
        "reason": verdict.reason,
    }
