"""Run the ORE (Open Source Risk Engine, PyPI ``open-source-risk-engine``) SIMM calculator on CRIF
lines, as an independent oracle for Solvent's SIMM. Imported only by the oracle tests."""

from __future__ import annotations

from typing import Any

HEADER = (
    "TradeID",
    "PortfolioID",
    "ProductClass",
    "RiskType",
    "Qualifier",
    "Bucket",
    "Label1",
    "Label2",
    "Amount",
    "AmountCurrency",
    "AmountUSD",
    "IMModel",
)

Line = tuple[str, str, str, str, str, str, float]  # pc, risk type, qualifier, bucket, l1, l2, usd


def crif_csv(lines: list[Line]) -> str:
    """The same lines as a Solvent CRIF CSV."""
    out = ["ProductClass,RiskType,Qualifier,Bucket,Label1,Label2,Amount,AmountCurrency,AmountUSD"]
    out += [f"{pc},{rt},{q},{b},{l1},{l2},{a!r},USD,{a!r}" for pc, rt, q, b, l1, l2, a in lines]
    return "\n".join(out) + "\n"


def ore_simm(lines: list[Line], mpor_days: int = 10) -> dict[tuple[str, str, str], float]:
    """ORE SIMM v2.6 results keyed by (product class, risk class, margin type), "All" for totals."""
    import ORE

    mapper = ORE.SimmBucketMapperBase()
    for _, rt, q, b, *_ in lines:
        if b:
            mapper.addMapping(getattr(ORE.CrifRecord, "RiskType_" + rt[5:]), q, b)
    config = ORE.SimmConfiguration_ISDA_V2_6(mapper, mpor_days)
    crif = ORE.Crif()
    crif.setCsvLoaderConfig(config)
    rows = ["\t".join(HEADER)]
    for i, (pc, rt, q, b, l1, l2, a) in enumerate(lines):
        rows.append(
            "\t".join((f"t{i}", "P", pc, rt, q, b, l1, l2, repr(a), "USD", repr(a), "SIMM"))
        )
    crif.fromCSVString("\n".join(rows) + "\n")
    calc = ORE.SimmCalculator(crif, config)
    nsd = next(iter(crif.records())).nettingSetDetails
    res: Any = calc.finalSimmResults(ORE.SimmConfiguration.SimmSide_Call, nsd).second
    out: dict[tuple[str, str, str], float] = {}
    pcs = ("All", "RatesFX", "Credit", "Equity", "Commodity")
    rcs = (
        "All",
        "InterestRate",
        "CreditQualifying",
        "CreditNonQualifying",
        "Equity",
        "Commodity",
        "FX",
    )
    mts = ("All", "Delta", "Vega", "Curvature", "BaseCorr")
    for pc in pcs:
        for rc in rcs:
            for mt in mts:
                key = (
                    getattr(ORE.CrifRecord, "ProductClass_" + pc),
                    getattr(ORE.SimmConfiguration, "RiskClass_" + rc),
                    getattr(ORE.SimmConfiguration, "MarginType_" + mt),
                    "All",
                )
                if res.has(*key):
                    out[(pc, rc, mt)] = float(res.get(*key))
    return out


def solvent_simm(result_json: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    """Flatten a Solvent SIMM result to the oracle's keys (zero parts left out, as ORE does)."""
    out = {("All", "All", "All"): result_json["simm"]}
    for pc, body in result_json["product_classes"].items():
        out[(pc, "All", "All")] = body["total"]
        for rc, parts in body["risk_classes"].items():
            out[(pc, rc, "All")] = parts["total"]
            for mt, key in (
                ("Delta", "delta"),
                ("Vega", "vega"),
                ("Curvature", "curvature"),
                ("BaseCorr", "base_corr"),
            ):
                if parts[key] != 0.0:
                    out[(pc, rc, mt)] = parts[key]
    return out


TENORS = ("2w", "1m", "3m", "6m", "1y", "2y", "3y", "5y", "10y", "15y", "20y", "30y")
CREDIT_TENORS = ("1y", "2y", "3y", "5y", "10y")
_BUCKETS = {
    "Risk_Equity": (*tuple(str(b) for b in range(1, 13)), "Residual"),
    "Risk_Commodity": tuple(str(b) for b in range(1, 18)),
    "Risk_CreditQ": (*tuple(str(b) for b in range(1, 13)), "Residual"),
    "Risk_CreditNonQ": ("1", "2", "Residual"),
}
_BASE = {
    "Risk_EquityVol": "Risk_Equity",
    "Risk_CommodityVol": "Risk_Commodity",
    "Risk_CreditVol": "Risk_CreditQ",
    "Risk_CreditVolNonQ": "Risk_CreditNonQ",
}


def random_crif(n: int, seed: int) -> list[Line]:
    """A random CRIF over every supported risk type: amounts spanning 1e3..1e8 USD (so that some
    qualifiers breach their concentration thresholds), mixed signs, several product classes,
    a fixed bucket per qualifier, IR volatility groups by currency."""
    import numpy as np

    rng = np.random.default_rng(seed)
    buckets: dict[tuple[str, str], str] = {}
    lines: list[Line] = []

    def pick(xs: tuple[str, ...]) -> str:
        return str(xs[int(rng.integers(0, len(xs)))])

    for _ in range(n):
        kind = int(rng.integers(0, 13))
        a = float(rng.normal() * 10 ** rng.uniform(3, 8))
        pc = "RatesFX"
        l1 = l2 = b = ""
        if kind in (0, 11):
            rt, q = "Risk_Equity", f"EQ{rng.integers(0, 30)}"
            pc = "Equity" if kind == 0 else pick(("RatesFX", "Credit", "Commodity"))
        elif kind == 1:
            rt, q, l1, pc, a = (
                "Risk_EquityVol",
                f"EQ{rng.integers(0, 30)}",
                pick(TENORS),
                "Equity",
                a / 10,
            )
        elif kind == 2:
            rt, q, pc = "Risk_Commodity", f"CO{rng.integers(0, 20)}", "Commodity"
        elif kind == 3:
            rt, q, l1, pc, a = (
                "Risk_CommodityVol",
                f"CO{rng.integers(0, 20)}",
                pick(TENORS),
                "Commodity",
                a / 10,
            )
        elif kind == 4:
            rt, q = "Risk_FX", pick(("EUR", "JPY", "GBP", "BRL", "TRY", "CNY", "ZAR", "USD", "KRW"))
        elif kind == 5:
            c = rng.choice(["EUR", "JPY", "BRL", "TRY", "CNY", "USD"], 2, replace=False)
            rt, q, l1, a = "Risk_FXVol", "".join(c), pick(TENORS), a / 10
        elif kind == 6:
            rt, q = "Risk_IRCurve", pick(("USD", "EUR", "JPY", "BRL", "AUD"))
            l1, l2, a = pick(TENORS), pick(("OIS", "Libor3m", "Libor6m")), a / 100
            b = {"JPY": "2", "BRL": "3"}.get(q, "1")
        elif kind == 7:
            rt, q, l1, a = "Risk_IRVol", pick(("USD", "EUR", "JPY", "BRL")), pick(TENORS), a / 10
        elif kind == 8:
            rt, q, l1, pc, a = (
                "Risk_CreditQ",
                f"CQ{rng.integers(0, 20)}",
                pick(CREDIT_TENORS),
                "Credit",
                a / 100,
            )
        elif kind == 9:
            rt, q, l1, pc, a = (
                "Risk_CreditVol",
                f"CQ{rng.integers(0, 20)}",
                pick(CREDIT_TENORS),
                "Credit",
                a / 10,
            )
        elif kind == 10:
            rt, q, l1, pc, a = (
                "Risk_CreditNonQ",
                f"CN{rng.integers(0, 8)}",
                pick(("1y", "5y")),
                "Credit",
                a / 100,
            )
        else:
            rt, q, pc, a = "Risk_Inflation", pick(("USD", "EUR")), "RatesFX", a / 100
        base = _BASE.get(rt, rt)
        if base in _BUCKETS:
            b = buckets.setdefault((base, q), pick(_BUCKETS[base]))
        lines.append((pc, rt, q, b, l1, l2, a))
    return lines


def relative_differences(
    ore: dict[tuple[str, str, str], float], ours: dict[tuple[str, str, str], float]
) -> dict[tuple[str, str, str], tuple[float, float]]:
    """Entries (totals, product classes, risk-class parts) where ORE and Solvent differ by more
    than 1e-8 relative (or 1e-6 USD absolute, for parts that are zero up to rounding)."""

    def kept(k: tuple[str, str, str]) -> bool:
        pc, rc, mt = k
        return k == ("All", "All", "All") or (pc != "All" and (rc != "All" or mt == "All"))

    out = {}
    for k in sorted(k for k in set(ore) | set(ours) if kept(k)):
        a, b = ore.get(k, 0.0), ours.get(k, 0.0)
        if abs(a - b) > max(1e-8 * max(abs(a), abs(b)), 1e-6):
            out[k] = (a, b)
    return out
