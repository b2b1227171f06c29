"""``solvent replay`` on the command line: FORMATS 10's summary, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from solvent.cli.main import app


def test_replay_prints_the_summary(files: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "replay",
            str(files["book"]),
            "--market",
            str(files["market"]),
            "--path",
            str(files["path"]),
            "--model",
            "deribit-pm",
            "--db",
            f"sqlite:///{tmp_path / 'r.db'}",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["steps"] == 6 and out["audit"]["ok"] is True and out["report"] is None


def test_replay_refuses_both_sources_in_one_line(files: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "replay",
            str(files["book"]),
            "--market",
            str(files["market"]),
            "--path",
            str(files["path"]),
            "--feed",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "exactly one of --path and --feed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
