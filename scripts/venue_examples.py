"""Write examples/cross-venue/: a portfolio over three venues and a chain, with signed attestations.

The locations' Ed25519 keys are derived from public seeds (``sha256("solvent example location
key: NAME")``): they are example keys, known to everyone, so the attestations they sign prove
nothing outside the examples and tests. A real location keeps its private key to itself and
registers only its public key (``locations.toml``, docs/cross-venue.md).

Run from the repository root: ``.venv/bin/python scripts/venue_examples.py``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.portfolio.external import ExternalHolding
from solvent.validation import iso_timestamp
from solvent.venues.attestation import public_key_hex, sign_attestation

OUT = Path(__file__).resolve().parents[1] / "examples" / "cross-venue"
ACCOUNT = "desk-1"
ATTESTED_AT = "2026-01-05T15:30:00Z"  # 3.5 minutes before the example market's as_of
SIGNERS = ("deribit", "okx", "bybit", "ethereum", "coinbase-custody", "arbitrum")


def example_key(location: str) -> Ed25519PrivateKey:
    """The example key of ``location`` (public seed: do not use outside examples and tests)."""
    seed = hashlib.sha256(f"solvent example location key: {location}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def holding(location: str, asset: str, amount: float, at: str = ATTESTED_AT) -> dict[str, object]:
    """One signed ``external`` entry of the example portfolio."""
    when: datetime = iso_timestamp(at, "attested_at")
    parsed = ExternalHolding(location, asset, amount, when, None)
    signature = sign_attestation(example_key(location), ACCOUNT, parsed)
    return {
        "location": location,
        "asset": asset,
        "amount": amount,
        "attested_at": at,
        "attestation": {"signature": signature},
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Example keys of examples/cross-venue (derived from public seeds by",
        "# scripts/venue_examples.py: they prove nothing outside the examples).",
    ]
    for name in SIGNERS:
        lines += ["", f"[locations.{name}]", f'public_key = "{public_key_hex(example_key(name))}"']
    (OUT / "locations.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    portfolio = {
        "account": ACCOUNT,
        "collateral": {"BTC": 1.0, "USDC": 10000.0},
        "positions": [
            {"instrument": "BTC-30JAN26-100000-C", "quantity": -5.0, "venue": "deribit"},
            {"instrument": "BTC-30JAN26-85000-P", "quantity": -3.0, "venue": "okx"},
            {"instrument": "BTC-PERPETUAL", "quantity": 1.5, "venue": "bybit"},
            {"instrument": "BTC-27MAR26", "quantity": -0.5},
        ],
        "external": [
            holding("deribit", "BTC", 0.5),
            holding("okx", "USDT", 20000.0),
            holding("bybit", "USDC", 15000.0),
            holding("ethereum", "USDC", 50000.0),
            holding("arbitrum", "ETH", 4.0),
            holding("coinbase-custody", "BTC", 1.0, "2026-01-04T16:00:00Z"),
            holding("ethereum", "ETH", 10.0, "2026-01-05T12:00:00Z"),  # stale: 3.5 h > 1 h
        ],
    }
    (OUT / "portfolio.json").write_text(json.dumps(portfolio, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
