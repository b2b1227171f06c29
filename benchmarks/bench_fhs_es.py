"""fhs-es over a whole book: 100,000 accounts x 1,000 historical scenarios (target < 5 s).

Synthetic book: 100,000 accounts with about 10 random positions each over 1,000 instruments of the
embedded Deribit chain (BTC and ETH options, futures, perpetuals), margined at the chain's date
with ``lookback_days = 1000`` (1,000 filtered scenarios; the floor and stressed blocks are off in
the default set, so the ES reduction runs over 1,000 scenarios). Prints:

- the whole model run (scenarios + risk array + sparse product + ES), the target figure;
- the scenario and risk-array part alone (``prepare``: once per market update);
- the re-margin of the whole book against that prepared state (``margin``: every tick);
- the ratio to a per-account loop (each account's P&L row and ES computed one by one, timed on a
  sample and scaled to the whole book), the baseline measured in the same run.
"""

from __future__ import annotations

import time

from benchmarks.books import synthetic_book
from solvent.margin.fhs_es.model import MODEL, margin_book
from solvent.margin.fhs_es.params import parse_params
from solvent.margin.params import load_builtin
from solvent.margin.protocol import Detail, PricedMarket
from solvent.market.deribit import load_embedded_chain
from solvent.riskstats.tail import es_var

N_INSTRUMENTS = 1000
N_ACCOUNTS = 100_000


def main() -> None:
    market = load_embedded_chain()
    instruments = tuple(list(market.quotes)[:N_INSTRUMENTS])
    params = parse_params(load_builtin("fhs-es") | {"lookback_days": 1000})
    book = synthetic_book(N_ACCOUNTS, instruments)
    margin_book(
        book.slice(0, 10), market, params, detail=Detail.TOTALS
    )  # warm caches (history load)

    start = time.perf_counter()
    result = margin_book(book, market, params, detail=Detail.TOTALS)
    total = time.perf_counter() - start
    n_scen = result.scenarios.main.stop - result.scenarios.main.start

    start = time.perf_counter()
    prepared = MODEL.prepare(PricedMarket.resolve(market, instruments), instruments, params)
    prep = time.perf_counter() - start
    start = time.perf_counter()
    MODEL.margin(prepared, book, detail=Detail.TOTALS)
    remargin = time.perf_counter() - start
    fhs, r_usd = prepared.scenarios, prepared.r_usd

    sample = 2000
    start = time.perf_counter()
    main = r_usd[:, fhs.main]
    for a in range(sample):
        cols, qty = book.row(a)
        es_var(-(qty @ main[cols]), params.confidence)
    loop = (time.perf_counter() - start) / sample * N_ACCOUNTS

    print(f"fhs-es: {N_ACCOUNTS:,} accounts x {n_scen:,} scenarios x {len(instruments):,} instr.")
    print(f"  whole model run (target < 5 s)      {total:8.3f} s")
    print(f"  scenarios + risk array (per update)  {prep:8.3f} s")
    print(f"  re-margin of the prepared book       {remargin:8.3f} s")
    print(
        f"  per-account loop (scaled estimate)   {loop:8.3f} s   vectorized is {loop / total:.1f}x"
    )


if __name__ == "__main__":
    main()
