"""The ``solvent`` command: an edge only (parse -> engine -> render).

Each sub-command lives in its own module under :mod:`solvent.cli.commands` and exposes
``register(app)``; this module discovers and registers them, so commands are added without editing
a shared file.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from solvent.cli import commands

app = typer.Typer(
    name="solvent",
    help="Portfolio margin and clearing risk engine for crypto derivatives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(app)


_register_commands()


if __name__ == "__main__":
    app()
