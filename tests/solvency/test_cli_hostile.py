"""``solvent solvency verify`` and ``publish`` fed hostile files end cleanly: exit 0, 1 (an invalid
proof, verdict on stdout) or 2 (an unreadable input), one line on stderr, never a traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from solvency_helpers import liabilities, signed
from solvent.cli.main import app
from solvent.ledger.store import Ledger
from solvent.solvency.snapshot import build_snapshot

KEY = Ed25519PrivateKey.generate()
SNAPSHOT = build_snapshot(liabilities(n=5), 2, depth=3)
HEADER = signed(SNAPSHOT, KEY)
PROOF = SNAPSHOT.proof("u000")
RESERVES = {"as_of": "2026-01-05T08:00:00Z", "assets": {"BTC": "1.5"}, "attestations": [{}]}
HOSTILE: list[Any] = [None, True, -1, 2**200, 1e308, "", "zz", [], {}, [[[[]]]], "1E+3", "NaN"]


def mutated(doc: Any, data: st.DataObject) -> str:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(0, 2))):
        node = doc
        while True:  # walk down to a random field, then replace it
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = data.draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and data.draw(st.booleans()):
                node = child
                continue
            # a copy: a later mutation may walk into it, and HOSTILE must stay as it is
            node[key] = copy.deepcopy(data.draw(st.sampled_from(HOSTILE)))
            break
    text = json.dumps(doc)
    return data.draw(st.sampled_from([text, text[: len(text) // 2], "\x00\x01", text + "}"]))


def invoke(argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), argv
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code)
    if result.exit_code:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("solvent: error: "), result.stderr
    if result.exit_code != 2:
        assert isinstance(json.loads(result.stdout), dict)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_verify_hostile_files(tmp_path: Path, data: st.DataObject) -> None:
    proof, header = tmp_path / "proof.json", tmp_path / "header.json"
    proof.write_text(mutated(PROOF, data))
    header.write_text(mutated(HEADER, data))
    fmt = data.draw(st.sampled_from(["solvent", "bybit"]))
    argv = ["solvency", "verify", str(proof), "--format", fmt, "--max-age", "none"]
    invoke(argv if fmt == "bybit" else [*argv, "--header", str(header)])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_publish_hostile_inputs(tmp_path: Path, data: st.DataObject) -> None:
    key = tmp_path / "key.pem"
    if not key.exists():
        key.write_bytes(
            KEY.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    reserves, previous = tmp_path / "reserves.json", tmp_path / "previous.json"
    reserves.write_text(mutated(RESERVES, data))
    previous.write_text(mutated(HEADER, data))
    market = tmp_path / "market.json"
    market.write_text(json.dumps({"as_of": "2026-01-05T08:00:00Z", "index": {"BTC": 1e5}}))
    out = tmp_path / f"out-{data.draw(st.integers(0, 10**9))}"
    argv = ["solvency", "publish", "--market", str(market), "--key", str(key), "--out", str(out)]
    url = f"sqlite:///{tmp_path / 'l.db'}"
    Ledger.open(url).close()  # publish reads an existing ledger and never creates one
    argv += ["--db", url, "--reserves", str(reserves)]
    invoke(argv + (["--previous", str(previous)] if data.draw(st.booleans()) else []))
