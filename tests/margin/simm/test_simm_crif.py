"""CRIF loading and calibration validation: clear errors naming the line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solvent.errors import SolventInputError
from solvent.margin.simm import compute_simm, load_calibration, load_crif, parse_crif
from solvent.margin.simm.calibration import calibration_from_dict

HEADER = "ProductClass,RiskType,Qualifier,Bucket,Label1,Label2,Amount,AmountCurrency,AmountUSD"
GOOD = "Equity,Risk_Equity,ABC,1,,,1000000,USD,1000000"


def test_extra_columns_order_and_delimiters() -> None:
    text = (
        "TradeID,AmountUSD,Bucket,Qualifier,RiskType,ProductClass,Label1,Label2,Amount,"
        "AmountCurrency,IMModel\n"
    )
    text += "t1,1000000,1,ABC,Risk_Equity,Equity,,,1000000,USD,SIMM\n"
    crif = parse_crif(text)
    assert len(crif) == 1 and crif.amount_usd[0] == 1e6
    tabbed = parse_crif((HEADER + "\n" + GOOD + "\n").replace(",", "\t"))
    assert tabbed.qualifier.tolist() == ["ABC"]


def test_amount_falls_back_to_usd_amount() -> None:
    crif = parse_crif(HEADER + "\nEquity,Risk_Equity,ABC,1,,,2500,USD,\n")
    assert crif.amount_usd.tolist() == [2500.0]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("Equity,Risk_Unknown,ABC,1,,,1,USD,1", "crif[3].RiskType"),
        ("Rates,Risk_Equity,ABC,1,,,1,USD,1", "crif[3].ProductClass"),
        ("Equity,Risk_Equity,ABC,1,,,1,USD,abc", "crif[3].AmountUSD"),
        ("Equity,Risk_Equity,ABC,1,,,1,USD,nan", "crif[3].AmountUSD"),
        ("Equity,Risk_Equity,ABC,1,,,1,EUR,", "crif[3].AmountUSD"),
        ("Equity,Risk_Equity,ABC,1,,,x,USD,", "crif[3].Amount"),
    ],
)
def test_bad_lines_name_line_and_column(row: str, field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        parse_crif(f"{HEADER}\n{GOOD}\n{row}\n")
    assert err.value.field == field


def test_missing_column_and_empty_file() -> None:
    with pytest.raises(SolventInputError) as err:
        parse_crif(HEADER.replace(",AmountUSD", "") + "\n")
    assert err.value.field == "crif.AmountUSD"
    with pytest.raises(SolventInputError):
        parse_crif("")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("Equity,Risk_Equity,ABC,13,,,1,USD,1", "crif[3].Bucket"),
        ("Equity,Risk_EquityVol,ABC,1,7y,,1,USD,1", "crif[3].Label1"),
        ("RatesFX,Risk_IRCurve,USD,1,5y,Libor9m,1,USD,1", "crif[3].Label2"),
        ("RatesFX,Risk_FXVol,EUR,,1y,,1,USD,1", "crif[3].Qualifier"),
    ],
)
def test_bad_buckets_and_labels(row: str, field: str) -> None:
    crif = parse_crif(f"{HEADER}\n{GOOD}\n{row}\n")
    with pytest.raises(SolventInputError) as err:
        compute_simm(crif, load_calibration())
    assert err.value.field == field


def test_load_crif_file(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(HEADER + "\n" + GOOD + "\n\n")
    crif = load_crif(path)
    assert len(crif) == 1 and int(crif.line[0]) == 2


def test_unsupported_version_mpor_and_currency() -> None:
    with pytest.raises(SolventInputError, match=r"2\.6"):
        load_calibration("2.5", 10)
    with pytest.raises(SolventInputError, match="10 or 1"):
        load_calibration("2.6", 5)
    with pytest.raises(SolventInputError) as err:
        compute_simm(parse_crif(HEADER + "\n" + GOOD + "\n"), load_calibration(), "EUR")
    assert err.value.field == "currency"


def _raw() -> dict:  # type: ignore[type-arg]
    path = Path(__file__).resolve().parents[3] / "src/solvent/margin/simm/calibration"
    return json.loads((path / "simm_v2_6_10d.json").read_text())  # type: ignore[no-any-return]


def test_calibration_validation() -> None:
    raw = _raw()
    assert calibration_from_dict(raw).equity.delta_rw[0] == 30
    bad = _raw()
    bad["surprise"] = 1
    with pytest.raises(SolventInputError, match="unknown field"):
        calibration_from_dict(bad)
    bad = _raw()
    bad["fx"]["vega_risk_weigth"] = 0.5  # misspelt field in a section
    with pytest.raises(SolventInputError) as err:
        calibration_from_dict(bad)
    assert err.value.field == "calibration.fx.vega_risk_weigth"
    bad = _raw()
    bad["equity"]["inter_bucket_correlation"][0][1] = 0.5  # no longer symmetric
    with pytest.raises(SolventInputError) as err:
        calibration_from_dict(bad)
    assert err.value.field == "calibration.equity.inter_bucket_correlation"
    bad = _raw()
    bad["commodity"]["delta_risk_weights"]["3"] = -1
    with pytest.raises(SolventInputError):
        calibration_from_dict(bad)


def test_shipped_calibrations_are_consistent() -> None:
    """Both MPORs share correlations; 1-day weights are smaller than 10-day ones."""
    ten, one = load_calibration("2.6", 10), load_calibration("2.6", 1)
    assert (ten.equity.inter == one.equity.inter).all()
    assert (one.equity.delta_rw < ten.equity.delta_rw).all()
    assert (one.commodity.delta_rw < ten.commodity.delta_rw).all()
    assert ten.concentration_enabled and not one.concentration_enabled
