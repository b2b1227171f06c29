"""The top-level command loads each command's module only when that command runs."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from solvent.cli.main import all_commands, app, command_modules, command_summary


def test_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for name in command_modules():
        assert name in result.stdout
        assert command_summary(name), f"command {name!r} has no one-line help"


def test_summaries_are_the_real_commands_help() -> None:
    for name, command in all_commands().items():
        first = (command.help or "").split("\n\n")[0].replace("\n", " ").strip()
        assert command_summary(name) == first, name


def test_help_and_import_load_no_heavy_library() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from solvent.cli.main import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
        "print(sorted(m for m in ('numpy', 'scipy', 'sqlalchemy', 'numba', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_command_loads_only_its_own_module() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from solvent.cli.main import app; "
        "r = CliRunner().invoke(app, ['market', '--help']); assert r.exit_code == 0; "
        "print(sorted(m for m in sys.modules if m.startswith('solvent.cli.commands.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['solvent.cli.commands.market']"


def test_unknown_command_suggests_the_close_one() -> None:
    result = CliRunner().invoke(app, ["marg"])
    assert result.exit_code == 2
    assert "margin" in result.output
