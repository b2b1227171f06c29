"""Derive parameter sets: the shipped TOML files against the upstream fixtures, and validation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from solvent.errors import SolventInputError
from solvent.margin.derive._fields import upstream_names
from solvent.margin.derive.params import (
    VolShock,
    load_pmrm1_params,
    load_pmrm2_params,
    load_srm_params,
    pmrm2_params_from_mapping,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "derive"


def _first(name: str) -> dict[str, object]:
    line = (DATA / name).read_text().splitlines()[0]
    return dict(json.loads(line))


def test_derive_pm_is_the_p2_base_fixture_set() -> None:
    """derive-pm.toml holds exactly the upstream P2-BASE parameters and G31 grid."""
    rec = _first("derive_pmrm2_portfolio_cases.jsonl")
    p = load_pmrm2_params("derive-pm")
    groups = {"vol_shock": p.vol_shock, "margin": p.margin, "basis": p.basis}
    groups |= {"other": p.other, "skew": p.skew}
    for gname, group in groups.items():
        names = upstream_names(type(group))
        for field, upstream in names.items():
            expected = rec["params"][gname][upstream]  # type: ignore[index]
            assert getattr(group, field) == pytest.approx(expected, rel=1e-12), (gname, field)
    assert len(p.scenarios) == len(rec["scenarios"]) == 31  # type: ignore[arg-type]
    for ours, theirs in zip(p.scenarios, rec["scenarios"], strict=True):  # type: ignore[call-overload]
        assert ours.spot_shock == pytest.approx(theirs[0], rel=1e-12)
        assert ours.vol_shock is VolShock(theirs[1])
        assert ours.dampening == pytest.approx(theirs[2], rel=1e-12)


def test_derive_pmrm1_is_the_upstream_test_set() -> None:
    rec = [json.loads(x) for x in (DATA / "derive_pmrm1_cases.jsonl").read_text().splitlines()][44]
    p = load_pmrm1_params("derive-pmrm1")
    for gname in ("basis", "other", "margin"):
        group = getattr(p, gname)
        for field, upstream in upstream_names(type(group)).items():
            assert getattr(group, field) == rec["params"][gname][upstream], (gname, field)
    assert p.vol.dte_floor_days * 86400 == rec["params"]["vol"]["dteFloorSec"]
    assert [(s.spot_shock, s.vol_shock.value) for s in p.scenarios] == [
        (a, b) for a, b in rec["scenarios"]
    ]


def test_derive_srm_is_the_portfolio_case_set() -> None:
    rec = [json.loads(x) for x in (DATA / "derive_srm_cases.jsonl").read_text().splitlines()][28]
    p = load_srm_params("derive-srm")
    keymap = {"oracle_contingency": "oracleContingency"}
    for gname in ("perp", "option", "oracle_contingency", "depeg", "base"):
        group = getattr(p, gname)
        for field, upstream in upstream_names(type(group)).items():
            assert getattr(group, field) == rec["params"][keymap.get(gname, gname)][upstream]


@pytest.mark.parametrize(
    "name", ["derive-pm", "derive-pm-mainnet", "derive-pmrm1", "derive-pmrm1-mainnet"]
)
def test_builtin_pm_sets_load(name: str) -> None:
    p = load_pmrm1_params(name) if "pmrm1" in name else load_pmrm2_params(name)
    assert p.name == name and p.scenarios


def test_mainnet_grids() -> None:
    p2 = load_pmrm2_params("derive-pm-mainnet")
    assert len(p2.scenarios) == 33
    assert [s.vol_shock for s in p2.scenarios[-2:]] == [VolShock.LINEAR, VolShock.ABS]
    assert len(load_pmrm1_params("derive-pmrm1-mainnet").scenarios) == 23
    srm = load_srm_params("derive-srm-mainnet")
    assert srm.for_market("snx").option.max_spot_req == 0.25
    assert srm.for_market("TRUMP").perp.im_perp_req == 0.5
    assert srm.for_market("unknown").perp == srm.perp


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def test_file_overrides_only_named_fields(tmp_path: Path) -> None:
    base = load_pmrm2_params("derive-pm")
    p = load_pmrm2_params(_toml(tmp_path, "[margin]\nim_factor = 1.3\n"))
    assert p.margin.im_factor == 1.3
    assert dataclasses.replace(p.margin, im_factor=base.margin.im_factor) == base.margin
    assert p.scenarios == base.scenarios and p.other == base.other
    # upstream camelCase names are accepted as aliases
    p = load_pmrm2_params(_toml(tmp_path, "[vol_shock]\nvolRangeUp = 0.7\n"))
    assert p.vol_shock.vol_range_up == 0.7


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[margin]\nim_factr = 1.0\n", "params.margin.im_factr"),
        ("[margin]\nim_factor = 0.4\n", "params.margin.im_factor"),
        ("[margin]\nmm_factor = 11\n", "params.margin.mm_factor"),
        ("[basis]\nscenario_spot_up = 1.0\n", "params.basis.scenario_spot_up"),
        ("[other]\nconf_threshold = 1.5\n", "params.other.conf_threshold"),
        ("[other]\nconf_threshold = true\n", "params.other.conf_threshold"),
        ("[marginz]\nim_factor = 1.0\n", "params.marginz"),
        ('scenarios = [[1.1, "Sideways", 1.0]]\n', "params.scenarios[0].vol_shock"),
        ('scenarios = [[1.1, "Linear", 1.0]]\n', "params.scenarios[0].spot_shock"),
        ('scenarios = [[-1.0, "Up", 1.0]]\n', "params.scenarios[0].spot_shock"),
        ('scenarios = [[1.0, "Up", -1.0]]\n', "params.scenarios[0].dampening"),
        ('scenarios = [[1, "Linear"], [1, "Linear"]]\n', "params.scenarios"),
        (
            "[collaterals.X]\nmm_haircut = 0.8\nim_haircut = 0.3\nrisk_cancelling = false\n",
            "params.collaterals.X",
        ),
        (
            "[collaterals.X]\nmm_haircut = 0.1\nim_haircut = 0.1\n",
            "params.collaterals.X.risk_cancelling",
        ),
    ],
)
def test_bad_parameter_is_named(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(SolventInputError) as err:
        load_pmrm2_params(_toml(tmp_path, text))
    assert err.value.field == field


def test_unknown_set_and_bad_srm_field(tmp_path: Path) -> None:
    with pytest.raises(SolventInputError) as err:
        load_pmrm2_params("derive-pm-nope")
    assert err.value.field == "params"
    with pytest.raises(SolventInputError) as err:
        load_srm_params(_toml(tmp_path, "[markets.ETH.perp]\nmm_perp_req = 2\n"))
    assert err.value.field == "params.markets.ETH.perp.mm_perp_req"
    with pytest.raises(SolventInputError) as err:
        load_pmrm1_params(_toml(tmp_path, 'scenarios = [[1.1, "Up", 0.5]]\n'))
    assert err.value.field == "params.scenarios[0].dampening"


def test_mapping_needs_every_group_without_base() -> None:
    with pytest.raises(SolventInputError) as err:
        pmrm2_params_from_mapping({"scenarios": [[1.0, "Up"]]})
    assert err.value.field == "params.vol_shock"
