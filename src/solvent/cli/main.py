"""The ``solvent`` command: an edge only (parse -> engine -> render).

Each sub-command lives in its own module under :mod:`solvent.cli.commands`, named after the
command (``_`` for ``-``), and exposes ``register(app)``; modules are discovered, so commands are
added without editing a shared file. A module is imported only when its command runs (or its own
``--help`` is asked for): ``solvent --help`` reads each command's one-line summary from the
module's source (the docstring of the function registered with ``@app.command("name")``, or the
``help=`` of a command group) without importing it, so start-up does not pay for numpy, SciPy or
SQLAlchemy until a command needs them.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from functools import cache
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from solvent.cli import commands
from solvent.cli.guard import OneLineErrors

_COMMANDS_DIR = Path(commands.__file__).parent


def command_modules() -> dict[str, str]:
    """Command name -> module name, for every module of :mod:`solvent.cli.commands`."""
    return {
        info.name.replace("_", "-"): f"{commands.__name__}.{info.name}"
        for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name)
    }


@cache
def command_summary(name: str) -> str:
    """The one-line help of command ``name``, read from its module's source without importing it."""
    source = (_COMMANDS_DIR / f"{name.replace('-', '_')}.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and isinstance(deco.func, ast.Attribute)
                    and deco.func.attr == "command"
                    and deco.args
                    and isinstance(deco.args[0], ast.Constant)
                    and deco.args[0].value == name
                ):
                    return (ast.get_docstring(node) or "").split("\n\n")[0].replace("\n", " ")
        if isinstance(node, ast.Call) and any(
            k.arg == "name" and isinstance(k.value, ast.Constant) and k.value.value == name
            for k in node.keywords
        ):
            for k in node.keywords:
                if k.arg == "help" and isinstance(k.value, ast.Constant):
                    return str(k.value.value)
    return ""


class LazyCommands(OneLineErrors):
    """The top-level group: every command is a named placeholder until it is invoked."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._modules = command_modules()
        for name in self._modules:
            self.commands.setdefault(
                name, typer.core.TyperCommand(name=name, short_help=command_summary(name))
            )

    def load(self, name: str) -> typer.core.TyperCommand | TyperGroup:
        """Import the module of command ``name`` and put its real command in place."""
        holder = typer.Typer()
        holder.callback()(lambda: None)  # a callback makes typer build a group
        importlib.import_module(self._modules[name]).register(holder)
        group = typer.main.get_command(holder)
        assert isinstance(group, TyperGroup)
        real = group.commands.get(name)
        if real is None:
            raise RuntimeError(f"{self._modules[name]} does not register the command {name!r}")
        self.commands[name] = real
        return real  # type: ignore[return-value]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in self._modules:
            self.load(args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="solvent",
    cls=LazyCommands,
    help="Portfolio margin and clearing risk engine for crypto derivatives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main() -> None:
    """Portfolio margin and clearing risk engine for crypto derivatives."""


def all_commands() -> dict[str, Any]:
    """Every command, imported (for tests and tools that walk the whole command tree)."""
    group = typer.main.get_command(app)
    assert isinstance(group, LazyCommands)
    return {name: group.load(name) for name in group.list_commands(typer.Context(group))}


if __name__ == "__main__":
    app()
