"""Cross-venue margin: what external collateral and venues cost a whole-book margin run.

A book of ``SOLVENT_BENCH_VENUE_ACCOUNTS`` accounts (default 20,000) over the example market,
4 positions each at venues drawn from deribit/okx/bybit/here and 2 signed external holdings each
(ethereum USDC, coinbase-custody BTC), margined under deribit-pm with the locations' keys
registered. Printed, all measured in this run:

- the same book margined without venues and external holdings (the baseline), and the ratio;
- the admission alone (one Ed25519 verification per holding): microseconds per holding, cold
  and again once the verified signatures are remembered (what a re-margin on the next tick pays);
- the cross-venue what-if of one 20-position portfolio over 4 venues against one margin of it
  (the what-if margins ``1 + 2 venues + 4 x positions`` rows in one call).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.engine.cross_venue import cross_venue
from solvent.engine.margin import margin_accounts
from solvent.market.snapshot import load_market
from solvent.portfolio.account_book import AccountBook
from solvent.portfolio.external import Attestation, ExternalHolding
from solvent.portfolio.portfolio import Portfolio, Position
from solvent.validation import iso_timestamp
from solvent.venues.attestation import public_key_hex, sign_attestation, signature_valid
from solvent.venues.external import admit_external
from solvent.venues.locations import default_locations, parse_locations

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTS = (
    "BTC-PERPETUAL", "BTC-27MAR26", "BTC-30JAN26-100000-C", "BTC-30JAN26-85000-P",
    "BTC-30JAN26-90000-P", "ETH-PERPETUAL", "ETH-27MAR26", "ETH-30JAN26-3100-C",
)  # fmt: skip
VENUES = (None, "deribit", "okx", "bybit")


def _timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    n = int(os.environ.get("SOLVENT_BENCH_VENUE_ACCOUNTS", "20000"))
    market = load_market(ROOT / "examples" / "market.json")
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    overlay = {
        "locations": {
            name: {"public_key": public_key_hex(key)} for name in ("ethereum", "coinbase-custody")
        }
    }
    locations = parse_locations(overlay, "bench", default_locations())
    at = iso_timestamp("2026-01-05T15:30:00Z", "at")
    rng = np.random.default_rng(1)
    with_venues, plain = [], []
    for i in range(n):
        account = f"a{i}"
        picks = rng.integers(len(INSTRUMENTS), size=4)
        qty = np.round(rng.normal(size=4), 3) + 0.001
        where = rng.integers(len(VENUES), size=4)
        held = []
        for location, asset, amount in (
            ("ethereum", "USDC", 5_000.0),
            ("coinbase-custody", "BTC", 0.1),
        ):
            h = ExternalHolding(location, asset, amount, at, None)
            signed = Attestation(sign_attestation(key, account, h))
            held.append(ExternalHolding(location, asset, amount, at, signed))
        positions = [(INSTRUMENTS[p], float(q)) for p, q in zip(picks, qty, strict=True)]
        with_venues.append(
            Portfolio(
                account,
                {"BTC": 0.5, "USDC": 10_000.0},
                tuple(
                    Position(name, q, venue=VENUES[w])
                    for (name, q), w in zip(positions, where, strict=True)
                ),
                external=tuple(held),
            )
        )
        plain.append(
            Portfolio(
                account,
                {"BTC": 0.5, "USDC": 10_000.0},
                tuple(Position(name, q) for name, q in positions),
            )
        )
    book = AccountBook.from_portfolios(with_venues)
    baseline = AccountBook.from_portfolios(plain)
    t_plain = _timed(lambda: margin_accounts(baseline, market, "deribit-pm"))
    signature_valid.cache_clear()
    t_venues = _timed(
        lambda: margin_accounts(book, market, "deribit-pm", locations=locations), repeat=1
    )
    t_warm = _timed(lambda: margin_accounts(book, market, "deribit-pm", locations=locations))

    def admit() -> None:
        admit_external(book.external, book.external_account, book.accounts, market.as_of, locations)

    signature_valid.cache_clear()
    t_admit = _timed(admit, repeat=1)
    t_admit_warm = _timed(admit)
    print(f"{n:,} accounts x 4 positions, deribit-pm")
    print(f"  baseline (no venues, no external): {t_plain:.3f} s")
    held = len(book.external)
    print(f"  with venues and {held:,} attested holdings: {t_venues:.3f} s "
          f"({t_venues / t_plain:.2f}x the baseline); next tick {t_warm:.3f} s "
          f"({t_warm / t_plain:.2f}x)")  # fmt: skip
    print(f"  admission: {t_admit:.3f} s cold ({1e6 * t_admit / held:.1f} us per holding), "
          f"{t_admit_warm:.3f} s warm ({1e6 * t_admit_warm / held:.1f} us)")  # fmt: skip
    names = [INSTRUMENTS[i % len(INSTRUMENTS)] for i in range(20)]
    one = Portfolio(
        "w",
        {},
        tuple(
            Position(name, float(rng.normal()) + 0.01, venue=VENUES[i % 4])
            for i, name in enumerate(names)
        ),
    )
    t_single = _timed(
        lambda: margin_accounts(AccountBook.from_portfolios([one]), market, "deribit-pm")
    )
    t_what_if = _timed(lambda: cross_venue(one, market, "deribit-pm"))
    print(f"  cross-venue what-if of 20 positions: {t_what_if:.3f} s, "
          f"{t_what_if / t_single:.2f}x one margin of it ({t_single:.3f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
