"""The main job's second half (``solvent demo``, ``make demo``): the venue book put on a ledger,
a crash replayed through the real-time engine (re-margin, liquidations, insurance fund, ADL,
socialized loss), and the HTML report with the replay's charts.

:func:`run_main_job` runs :func:`solvent.engine.demo.run_demo` (market, venue book, margin under
every model), then :func:`replay_crash` on a ledger kept at ``DIR/ledger.db`` (so ``solvent serve
--db sqlite:///DIR/ledger.db`` shows the same ledger), then writes ``DIR/index.html``. The
replay lives here, in the ``realtime`` layer, because the engine layer comes before it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from solvent.accounts.health import STATES
from solvent.engine.demo import (
    DEFAULT_ACCOUNTS,
    DEMO_MODELS,
    DemoResult,
    Progress,
    demo_market_json,
    run_demo,
)
from solvent.engine.demo_report import write_report
from solvent.errors import SolventInputError
from solvent.ledger.model import INSURANCE
from solvent.ledger.store import Ledger
from solvent.market.moves import move_underlyings
from solvent.market.snapshot import MarketSnapshot
from solvent.market.writer import market_to_json
from solvent.realtime.engine import Breach, LiquidationContext, LiquidationReport, Liquidator
from solvent.realtime.replay import replay
from solvent.realtime.replay import waterfall_liquidator as replay_waterfall_liquidator
from solvent.realtime.sources import load_path
from solvent.realtime.views import replay_json
from solvent.solvency.keys import create_key, load_key, public_key_hex
from solvent.solvency.publish import publish_snapshot, write_publication
from solvent.solvency.verifier import verify_proof

DEMO_CRASH = "builtin:gap-40-hour"
"""The crash the demo replays: every index -4 % in its first minute (a gap), then down to -40 %
at one hour, a step a minute. The gap is what makes bankruptcies: a smooth path moves less in a
minute than a maintenance margin, so the liquidator closes every unit before its equity runs out
(``builtin:minus-40-hour`` bankrupts one unit of the 3,000 and costs the fund nothing)."""

INSURANCE_FUND_USD = 250_000.0
"""The insurance fund at the start of the replay of the default book (3,000 accounts; USD, held
in USDC): about 0.03 % of its 900 million USD of gross notional, a young venue's fund (a large
venue's is nearer 1 %). A book of another size gets the same share (:func:`seeded_fund_usd`).
The liquidation fees it collects, paid in the contracts' settlement coins, stay in it."""


def seeded_fund_usd(accounts: int) -> float:
    """The demo's insurance fund for a book of ``accounts`` accounts (USD):
    :data:`INSURANCE_FUND_USD` per :data:`~solvent.engine.demo.DEFAULT_ACCOUNTS` accounts, so a
    smaller or larger book meets the crash with the same fund for its size."""
    return INSURANCE_FUND_USD * accounts / DEFAULT_ACCOUNTS


MAIN_JOB_STAGES = 4 + len(DEMO_MODELS) + 3
"""Stages :func:`run_main_job` reports to its ``progress`` (the CLI's bar length)."""

StepProgress = Callable[[int, int], None]
"""Told ``(events done, events in all)`` as the replay consumes its path."""


@dataclass(frozen=True, slots=True)
class CrashTally:
    """What the crash replay's liquidator has done, told after every tick it acted in (the
    console shows it as it happens). Counts are margin units (a unit liquidated in several ticks
    counts once); amounts in USD."""

    tick: int
    index: Mapping[str, float]
    """The tick's index prices (USD)."""
    liquidated: int
    bankrupt: int
    new_liquidated: int
    """Units liquidated for the first time in this tick."""
    new_bankrupt: int
    fees_usd: float
    """Liquidation fees paid into the insurance fund so far."""
    insurance_fund_usd: float
    """The fund's balance on the ledger after this tick's booking, at the tick's index."""
    insurance_covered_usd: float
    adl_fills: int
    socialized_usd: float


CrashWatcher = Callable[[CrashTally], None]
"""Told a :class:`CrashTally` after each tick whose liquidations were booked."""


class _RecordingLiquidator:
    """A liquidator that books like ``inner`` and records, tick by tick, what it booked: the runs,
    the insurance fund's balances on the ledger after them, the steps by kind, the ADL fills and
    the bankrupt units' deficits (the report's waterfall); ``watch`` is told a
    :class:`CrashTally` after each booked tick."""

    def __init__(self, inner: Liquidator, ledger: Ledger, watch: CrashWatcher | None) -> None:
        self.inner = inner
        self.ledger = ledger
        self.watch = watch
        self.liquidated: set[str] = set()
        self.bankrupt: set[str] = set()
        self.totals: dict[str, float] = {}
        self.fund_start_units = dict(ledger.balances(INSURANCE))
        self.booked: list[dict[str, Any]] = []
        self.adl_fills: list[dict[str, Any]] = []
        self.bankruptcies: list[dict[str, Any]] = []
        self._tick: tuple[int, Mapping[str, float], int, int] | None = None

    def liquidate(
        self, breaches: Sequence[Breach], context: LiquidationContext
    ) -> LiquidationReport:
        report = self.inner.liquidate(breaches, context)
        acted = {a for a, o in report.outcomes.items() if o.get("action") not in (None, "none")}
        broke = {a for a, o in report.outcomes.items() if o.get("action") == "bankrupt"}
        new = (len(acted - self.liquidated), len(broke - self.bankrupt))
        self.liquidated |= acted
        self.bankrupt |= broke
        for key, value in report.totals.items():
            self.totals[key] = self.totals.get(key, 0.0) + float(value)
        for account, outcome in sorted(report.outcomes.items()):
            if float(outcome.get("deficit_usd", 0.0)) > 0.0:
                self.bankruptcies.append(
                    {
                        "tick": context.tick,
                        "account": account,
                        **{key: float(outcome.get(key, 0.0)) for key in _DEFICIT_KEYS},
                    }
                )
        self._tick = (context.tick, dict(context.market.index), *new)
        return report

    def execute(self, plan: Sequence[Mapping[str, Any]], market: MarketSnapshot) -> None:
        self.inner.execute(plan, market)
        if self._tick is None:
            return  # a plan left by a crash, booked on restart
        tick, index, new_liquidated, new_bankrupt = self._tick
        self._tick = None
        kinds: dict[str, int] = {}
        for run in plan:
            for step in run["steps"]:
                kinds[step["kind"]] = kinds.get(step["kind"], 0) + 1
                if step["kind"] == "adl":
                    self.adl_fills.append(
                        {
                            "tick": tick,
                            "account": step["account"],
                            "against": step["against"],
                            "instrument": step["instrument"],
                            "quantity": step["quantity"],
                            "price": step["price"],
                        }
                    )
        fund_units = dict(sorted(self.ledger.balances(INSURANCE).items()))
        self.booked.append(
            {
                "tick": tick,
                "runs": [str(run["run_id"]) for run in plan],
                "steps": dict(sorted(kinds.items())),
                "fund_units": fund_units,
            }
        )
        if self.watch is None:
            return
        fund = 0.0
        for asset, units in fund_units.items():
            fund += float(self.ledger.assets.get(asset).to_decimal(units)) * market.price_usd(asset)
        self.watch(
            CrashTally(
                tick=tick,
                index=index,
                liquidated=len(self.liquidated),
                bankrupt=len(self.bankrupt),
                new_liquidated=new_liquidated,
                new_bankrupt=new_bankrupt,
                fees_usd=self.totals.get("fees_usd", 0.0),
                insurance_fund_usd=fund,
                insurance_covered_usd=self.totals.get("insurance_covered_usd", 0.0),
                adl_fills=int(self.totals.get("adl_events", 0.0)),
                socialized_usd=self.totals.get("socialized_loss_usd", 0.0),
            )
        )


_DEFICIT_KEYS = ("deficit_usd", "insurance_covered_usd", "adl_covered_usd", "socialized_usd")
"""A bankrupt unit's deficit and what each stage of the waterfall covered (USD)."""


def replay_crash(
    result: DemoResult,
    directory: Path,
    *,
    path: str = DEMO_CRASH,
    insurance_fund_usd: float = INSURANCE_FUND_USD,
    liquidate: bool = True,
    watch: CrashWatcher | None = None,
    progress: StepProgress | None = None,
) -> dict[str, Any]:
    """Replay ``path`` over the demo's book on a fresh ledger at ``directory/ledger.db``: the
    replay's FORMATS 10 summary plus the series the report charts (accounts by state, the
    insurance fund and the index, per tick) and the loss waterfall: the deficits and who covered
    them, the fund (start, end, lowest and when), the fund's balances on the ledger after every
    booked tick (with the liquidation runs booked in it and their steps by kind), every ADL fill
    and every bankrupt unit's deficit. ``liquidate``: with the waterfall liquidator booking on the
    ledger (the default; without it breaches are only queued); ``watch``: told what the
    liquidator did after each tick; ``progress``: told the events consumed."""
    db_file = directory / "ledger.db"
    if db_file.exists():
        db_file.unlink()
    url = f"sqlite:///{db_file}"
    recorders: list[_RecordingLiquidator] = []
    make = replay_waterfall_liquidator("partial")

    def recording(ledger: Ledger) -> Liquidator:
        recorder = _RecordingLiquidator(make(ledger), ledger, watch)
        recorders.append(recorder)
        return recorder

    out = replay(
        result.book.accounts,
        result.market,
        path=path,
        model="standard",
        db=url,
        insurance_fund_usd=insurance_fund_usd,
        liquidator=recording if liquidate else None,
        progress=progress,
    )
    history = out.history
    states = {s.value: [int(h["by_state"].get(s.value, 0)) for h in history] for s in STATES}
    fund = [float(h["insurance_fund_usd"]) for h in history]
    index = {
        asset: [float(h["index"][asset]) for h in history]
        for asset in (history[0]["index"] if history else {})
    }
    totals: Mapping[str, float] = history[-1]["totals"] if history else {}
    deficits = float(totals.get("deficit_usd", 0.0))
    insured = float(totals.get("insurance_covered_usd", 0.0))
    adl = float(totals.get("adl_covered_usd", 0.0))
    recorder = recorders[-1] if recorders else None
    booked = [] if recorder is None else recorder.booked
    steps: dict[str, int] = {}
    for tick in booked:
        for kind, n in tick["steps"].items():
            steps[kind] = steps.get(kind, 0) + n
    lowest = min(range(len(fund)), key=fund.__getitem__) if fund else None
    summary = replay_json(out)
    return {
        "summary": summary,
        "liquidator": liquidate,
        "db": url,
        "path": path,
        "series": {
            "tick": [int(h["tick"]) for h in history],
            "states": states,
            "insurance_fund_usd": fund,
            "index": index,
        },
        "waterfall": {
            "deficits": deficits,
            "covered by the fund": insured,
            "covered by ADL": adl,
            "socialized": out.socialized_loss_usd,
            "left to the venue": max(deficits - insured - adl - out.socialized_loss_usd, 0.0),
        },
        "fees_usd": out.fees_usd,
        "insurance_fund": {
            **summary["insurance_fund"],
            "lowest_tick": None if lowest is None else int(history[lowest]["tick"]),
            "start_units": {} if recorder is None else dict(recorder.fund_start_units),
        },
        "fund_history": booked,
        "steps_by_kind": dict(sorted(steps.items())),
        "adl_fills": [] if recorder is None else recorder.adl_fills,
        "bankruptcies": [] if recorder is None else recorder.bankruptcies,
    }


def crash_end_market(market: MarketSnapshot, path: str = DEMO_CRASH) -> MarketSnapshot:
    """The market at the end of the crash: every index moved to the path's last prices (the
    option chain follows at its IVs, order books scaled), as the replay left it."""
    events = load_path(path, market)
    last = events[-1]
    return move_underlyings(market, dict(last.prices), as_of=None, field="path")


def write_end_market(market: MarketSnapshot, directory: Path) -> Path:
    """Write ``market`` (the crash's end, :func:`crash_end_market`) as ``directory/market.json``
    (docs/formats.md 1): what ``solvent serve --market`` values the post-crash ledger at."""
    target = directory / "market.json"
    target.write_text(json.dumps(market_to_json(market)), encoding="utf-8")
    return target


def publish_solvency(url: str, market: MarketSnapshot, directory: Path) -> dict[str, Any]:
    """Publish a signed solvency snapshot of the ledger at ``url`` into ``directory/solvency``
    (a fresh Ed25519 key at ``directory/solvency-key.pem`` on the first run) and verify one
    account's inclusion proof against the signed header, as a holder would."""
    key_path = directory / "solvency-key.pem"
    key = load_key(key_path) if key_path.exists() else create_key(key_path)
    target = directory / "solvency"
    if target.exists():
        shutil.rmtree(target)
    ledger = Ledger.open(url)
    try:
        publication = publish_snapshot(ledger, market, key)
    finally:
        ledger.close()
    write_publication(publication, target)
    users = [a for a in publication.snapshot.positions if not a.startswith("@")]
    account = users[0]
    verdict = verify_proof(
        publication.snapshot.proof(account), publication.header, public_key=public_key_hex(key)
    )
    header, report = publication.header, publication.report
    return {
        "directory": str(target),
        "snapshot": header["snapshot"],
        "root": header["root"]["hash"],
        "leaves": header["leaf_count"],
        "liabilities": {a: v["liabilities"] for a, v in report["assets"].items()},
        "solvent": bool(report["solvent"]),
        "verified_account": account,
        "verified": bool(verdict.valid),
    }


def run_main_job(
    *,
    accounts: int,
    seed: int,
    directory: Path,
    progress: Progress | None = None,
    liquidate: bool = True,
    watch: CrashWatcher | None = None,
    replay_progress: StepProgress | None = None,
    insurance_fund_usd: float | None = None,
) -> DemoResult:
    """The whole main job (module docstring); returns the result with its report written.
    ``liquidate``, ``watch``, ``replay_progress``, ``insurance_fund_usd``: see
    :func:`replay_crash` (``None``: :func:`seeded_fund_usd` of ``accounts``)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise SolventInputError("out", f"{directory} exists and is not a directory")
    if not directory.resolve().parent.is_dir():
        raise SolventInputError("out", f"no such directory: {directory.resolve().parent}")
    directory.mkdir(exist_ok=True)
    result = run_demo(accounts=accounts, seed=seed, progress=progress)
    # The market before the crash (what the accounts were opened at); market.json, the one the
    # serve hint names, is rewritten below with the market at the crash's end.
    (directory / "market-before.json").write_text(json.dumps(demo_market_json()), encoding="utf-8")
    if progress is not None:
        progress("replay the crash through the real-time engine")
    crash = replay_crash(
        result,
        directory,
        insurance_fund_usd=seeded_fund_usd(accounts)
        if insurance_fund_usd is None
        else insurance_fund_usd,
        liquidate=liquidate,
        watch=watch,
        progress=replay_progress,
    )
    if progress is not None:
        progress("publish and verify a solvency snapshot")
    end_market = crash_end_market(result.market)
    market_file = write_end_market(end_market, directory)
    solvency = publish_solvency(crash["db"], end_market, directory)
    extras = dict(result.extras)
    extras["replay"] = crash
    extras["solvency"] = solvency
    extras["serve"] = (
        f"solvent key create --operator --db {crash['db']} && "
        f"solvent serve --db {crash['db']} --market {market_file}"
    )
    result = replace(result, extras=extras)
    if progress is not None:
        progress("write the report")
    return replace(result, report=write_report(result, directory))
