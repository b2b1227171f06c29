"""The margin models behind one small protocol, looked up by name (``--model``).

Every model margins a whole :class:`~solvent.portfolio.book.Book` at once against a market snapshot
with a named parameter set, and returns a :class:`~solvent.margin.result.BookMargin`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from solvent.errors import SolventInputError
from solvent.margin import deribit_pm, standard
from solvent.margin.result import BookMargin
from solvent.market.snapshot import MarketSnapshot
from solvent.portfolio.book import Book

BookMarginFn = Callable[[Book, MarketSnapshot, "str | None", bool, bool], BookMargin]


@dataclass(frozen=True, slots=True)
class MarginModel:
    """A named model: ``run(book, market, params, detail, explain)``."""

    name: str
    description: str
    run: BookMarginFn


def _standard(
    book: Book, market: MarketSnapshot, params: str | None, detail: bool, explain: bool
) -> BookMargin:
    from solvent.margin.derive import model as derive_model  # Derive's Standard Manager

    if derive_model.is_srm_params(params):
        return derive_model.srm_margin_book(book, market, params, detail, explain)
    return standard.margin_book(
        book, market, standard.load_params(params), detail=detail, explain=explain
    )


def _deribit_pm(
    book: Book, market: MarketSnapshot, params: str | None, detail: bool, explain: bool
) -> BookMargin:
    return deribit_pm.margin_book(
        book, market, deribit_pm.load_params(params), detail=detail, explain=explain
    )


_MODELS: dict[str, MarginModel] = {
    "standard": MarginModel("standard", "per-position margin, no offsets", _standard),
    "deribit-pm": MarginModel("deribit-pm", "Deribit portfolio margin risk matrix", _deribit_pm),
}


_PLUGINS = {
    "span": "solvent.margin.span.model",
    "derive-pm": "solvent.margin.derive.model",
    "fhs-es": "solvent.margin.fhs_es.model",
    "simm": "solvent.margin.simm.margin_model",
}
"""Models that live in their own package, imported on first use (each exposes ``MODEL``)."""


def register(model: MarginModel) -> None:
    """Add a model to the registry (used by the model packages that plug in)."""
    _MODELS[model.name] = model


def get_model(name: str) -> MarginModel:
    """The model called ``name``; a clear error listing the known ones otherwise."""
    if name not in _MODELS and name in _PLUGINS:
        try:
            module = importlib.import_module(_PLUGINS[name])
        except ImportError as exc:
            raise SolventInputError("model", f"model {name!r} is not available: {exc}") from None
        register(module.MODEL)
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(model_names())
        raise SolventInputError("model", f"unknown model {name!r} (known: {known})") from None


def model_names() -> list[str]:
    """Every model name ``--model`` accepts."""
    return sorted(set(_MODELS) | set(_PLUGINS))
