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
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from solvent.accounts.health import STATES
from solvent.engine.demo import DEMO_MODELS, DemoResult, Progress, demo_market_json, run_demo
from solvent.engine.demo_report import write_report
from solvent.errors import SolventInputError
from solvent.ledger.store import Ledger
from solvent.market.moves import move_underlyings
from solvent.market.snapshot import MarketSnapshot
from solvent.realtime.replay import LiquidatorFactory, replay
from solvent.realtime.replay import waterfall_liquidator as replay_waterfall_liquidator
from solvent.realtime.sources import load_path
from solvent.realtime.views import replay_json
from solvent.solvency.keys import create_key, load_key, public_key_hex
from solvent.solvency.publish import publish_snapshot, write_publication
from solvent.solvency.verifier import verify_proof

DEMO_CRASH = "builtin:minus-40-hour"
"""The crash the demo replays: every index -40 % in one hour, a step a minute."""

INSURANCE_FUND_USD = 250_000.0
"""The insurance fund at the start of the replay (USD, held in USDC)."""

MAIN_JOB_STAGES = 4 + len(DEMO_MODELS) + 3
"""Stages :func:`run_main_job` reports to its ``progress`` (the CLI's bar length)."""

StepProgress = Callable[[int, int], None]
"""Told ``(events done, events in all)`` as the replay consumes its path."""


def waterfall_liquidator() -> LiquidatorFactory | None:
    """The waterfall liquidator booked on the ledger (partial policy, insurance fund, ADL,
    socialized loss): :func:`solvent.realtime.replay.waterfall_liquidator`."""
    return replay_waterfall_liquidator("partial")


def replay_crash(
    result: DemoResult,
    directory: Path,
    *,
    path: str = DEMO_CRASH,
    insurance_fund_usd: float = INSURANCE_FUND_USD,
    liquidate: bool = False,
) -> dict[str, Any]:
    """Replay ``path`` over the demo's book on a fresh ledger at ``directory/ledger.db``: the
    replay's FORMATS 10 summary plus the series the report charts (accounts by state and the
    insurance fund, per tick) and the waterfall of deficits."""
    db_file = directory / "ledger.db"
    if db_file.exists():
        db_file.unlink()
    url = f"sqlite:///{db_file}"
    out = replay(
        result.book.accounts,
        result.market,
        path=path,
        model="standard",
        db=url,
        insurance_fund_usd=insurance_fund_usd,
        liquidator=waterfall_liquidator() if liquidate else None,
    )
    history = out.history
    states = {s.value: [int(h["by_state"].get(s.value, 0)) for h in history] for s in STATES}
    fund = [float(h["insurance_fund_usd"]) for h in history]
    covered = max(out.fees_usd + out.insurance_fund_start_usd - out.insurance_fund_end_usd, 0.0)
    return {
        "summary": replay_json(out),
        "liquidator": liquidate,
        "db": url,
        "path": path,
        "series": {"states": states, "insurance_fund_usd": fund},
        "waterfall": {
            "fees into the fund": out.fees_usd,
            "covered by the fund": covered,
            "socialized": out.socialized_loss_usd,
        },
    }


def crash_end_market(market: MarketSnapshot, path: str = DEMO_CRASH) -> MarketSnapshot:
    """The market at the end of the crash: every index moved to the path's last prices (the
    option chain follows at its IVs, order books scaled), as the replay left it."""
    events = load_path(path, market)
    last = events[-1]
    return move_underlyings(market, dict(last.prices), as_of=None, field="path")


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
    liquidate: bool = False,
) -> DemoResult:
    """The whole main job (module docstring); returns the result with its report written."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise SolventInputError("out", f"{directory} exists and is not a directory")
    if not directory.resolve().parent.is_dir():
        raise SolventInputError("out", f"no such directory: {directory.resolve().parent}")
    directory.mkdir(exist_ok=True)
    result = run_demo(accounts=accounts, seed=seed, progress=progress)
    market_file = directory / "market.json"
    market_file.write_text(json.dumps(demo_market_json()), encoding="utf-8")
    if progress is not None:
        progress("replay the crash through the real-time engine")
    crash = replay_crash(result, directory, liquidate=liquidate)
    if progress is not None:
        progress("publish and verify a solvency snapshot")
    solvency = publish_solvency(crash["db"], crash_end_market(result.market), directory)
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
