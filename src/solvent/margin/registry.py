"""Every margin model, looked up by name (``--model``): one explicit list of modules.

Each module exposes ``MODEL`` (:class:`solvent.margin.protocol.MarginModel`); it is imported on
first use, so a command that needs one model loads only that one. No model code lives here.
"""

from __future__ import annotations

import importlib

from solvent.errors import SolventInputError
from solvent.margin.params import based_on
from solvent.margin.protocol import MarginModel

MODEL_MODULES: dict[str, str] = {
    "standard": "solvent.margin.standard",
    "deribit-pm": "solvent.margin.deribit_pm",
    "derive-pm": "solvent.margin.derive.model",
    "derive-srm": "solvent.margin.derive.srm_model",
    "span": "solvent.margin.span.model",
    "fhs-es": "solvent.margin.fhs_es.model",
    "simm": "solvent.margin.simm.margin_model",
}
"""Model name -> the module whose ``MODEL`` it is."""

_LOADED: dict[str, MarginModel] = {}


def register(model: MarginModel) -> None:
    """Add (or replace) a model under ``model.name``: plug-ins and tests."""
    _LOADED[model.name] = model


def get_model(name: str) -> MarginModel:
    """The model called ``name``; a clear error listing the known ones otherwise."""
    if name in _LOADED:
        return _LOADED[name]
    if name not in MODEL_MODULES:
        known = ", ".join(model_names())
        raise SolventInputError("model", f"unknown model {name!r} (known: {known})")
    try:
        module = importlib.import_module(MODEL_MODULES[name])
    except ImportError as exc:
        raise SolventInputError("model", f"model {name!r} is not available: {exc}") from None
    model: MarginModel = module.MODEL
    _LOADED[name] = model
    return model


def model_names() -> list[str]:
    """Every model name ``--model`` accepts."""
    return sorted(set(MODEL_MODULES) | set(_LOADED))


def resolve_alias(model: str, params: str | None) -> str:
    """The public alias ``--model standard --params derive-srm[...]`` (a built-in set whose name
    starts with ``derive-srm``, or a TOML file whose ``base_set`` does) means ``derive-srm``."""
    if model != "standard" or params is None:
        return model
    return "derive-srm" if (based_on(params) or "").startswith("derive-srm") else model
