"""How every ``solvent`` command ends: output on stdout and exit 0, or one line on stderr.

:class:`OneLineErrors` is the top-level command group's base class. It runs the command line with
the parser's own error printing switched off and turns what comes back into the documented exits
(docs/formats.md, "Validation rules"):

- bad input (:class:`~solvent.errors.SolventError`, a usage error such as a missing option or a
  value of the wrong type): ``solvent: error: ...`` on one line of stderr, exit 2;
- ``--help``, or a command group run without a sub-command: the help on stdout, exit 0;
- a job that could not be completed (:class:`~solvent.errors.SolventJobError`: a shard lost on
  every retry, an unreachable cluster): one line, exit 1;
- the engine's own liquidation plan refused by the ledger (:class:`~solvent.errors.
  PlanRefusedError`: planner and ledger disagree, an internal inconsistency): one line, exit 3;
- an interrupt: exit 130;
- input accepted with a warning (:class:`~solvent.errors.SolventWarning`): after the output,
  ``solvent: warning: ...`` on one line of stderr per warning, exit 0.

Anything else is a bug in Solvent and is not hidden: its traceback is shown. A numpy
``RuntimeWarning`` (overflow, invalid value) is such a bug too (the loaders refuse numbers that
could overflow), so warnings are raised as errors while a command runs instead of being printed.

This module imports nothing heavy: ``solvent --help`` stays fast.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from typer import _click
from typer.core import TyperGroup
from typer.exceptions import Abort

from solvent.errors import SolventError, SolventWarning, one_line

PREFIX = "solvent: error: "
BAD_INPUT = 2
MAX_WARNINGS = 20
"""Warnings printed after a command; more are counted in one last line."""


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code`` (non-zero)."""
    sys.stderr.write(f"{PREFIX}{one_line(message)}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _command(ctx: Any) -> str:
    path = getattr(ctx, "command_path", "") or ""
    return path.partition(" ")[2]  # without the program name


class OneLineErrors(TyperGroup):
    """A command group whose every failure ends as one line on stderr (see the module doc)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SolventWarning)
                warnings.simplefilter("error", RuntimeWarning)
                code = super().main(
                    args, prog_name or "solvent", complete_var, standalone_mode=False, **extra
                )
        except _click.exceptions.NoArgsIsHelpError as exc:
            help_text = exc.format_message()
            if help_text.strip():  # (with rich installed the help is already printed)
                sys.stdout.write(help_text + "\n")
            raise SystemExit(0) from None
        except _click.exceptions.UsageError as exc:
            where = _command(exc.ctx)
            fail(f"{where}: {exc.format_message()}" if where else exc.format_message())
        except _click.exceptions.ClickException as exc:
            fail(exc.format_message())
        except Abort:
            fail("aborted", 1)
        except SolventError as exc:
            fail(str(exc), getattr(exc, "exit_code", BAD_INPUT))
        ours = [w for w in caught if isinstance(w.message, SolventWarning)]
        for w in ours[:MAX_WARNINGS]:  # after a successful command only: an error is one line
            sys.stderr.write(f"solvent: warning: {one_line(str(w.message))}\n")
        if len(ours) > MAX_WARNINGS:
            sys.stderr.write(f"solvent: warning: and {len(ours) - MAX_WARNINGS} more warnings\n")
        for w in caught:
            if not isinstance(w.message, SolventWarning):
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        raise SystemExit(code if isinstance(code, int) else 0)
