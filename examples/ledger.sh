#!/usr/bin/env bash
# A walk through the exact ledger (docs/formats.md 9) on a throwaway SQLite file:
# fund the venue (it pays premiums and realized P&L from its own balance), open an account and a
# cross sub-account, deposit, trade near the mark, check an order, show the account's health, try a
# withdrawal that would breach margin, and audit.
# Usage: examples/ledger.sh [SOLVENT_COMMAND]   (default: .venv/bin/solvent, else solvent)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
solvent="${1:-}"
if [[ -z "$solvent" ]]; then
  if [[ -x "$here/../.venv/bin/solvent" ]]; then solvent="$here/../.venv/bin/solvent"; else solvent=solvent; fi
fi
market="$here/market.json"
db="$(mktemp -d)/ledger.db"
export SOLVENT_DB="sqlite:///$db"
run() { echo "\$ solvent $*" >&2; "$solvent" "$@"; }
# Trades and withdrawals refuse a market more than 5 minutes old; this sample market is a recorded
# one, so measure its age at its own instant (--now), as a replay does.
now="$(sed -n 's/.*"as_of": *"\([^"]*\)".*/\1/p' "$market" | head -1)"

run account deposit @venue BTC 10

run account create desk-1 --model deribit-pm
run account create desk-1-hedge --parent desk-1 --mode cross
run account deposit desk-1 BTC 2.5
run account deposit desk-1 USDC 10000
run account trade desk-1 BTC-30JAN26-100000-C -5 0.0216 --market "$market" --now "$now"
run account trade desk-1-hedge BTC-PERPETUAL 1.2 93700 --market "$market" --now "$now"
run account check desk-1 --market "$market" --order BTC-30JAN26-85000-P -10
run account show desk-1 --market "$market"
# Withdrawing nearly everything would leave the account below its initial margin: refused (exit 2).
if run account withdraw desk-1 BTC 2.4 --market "$market" --now "$now"; then
  echo "unexpected: the withdrawal was accepted" >&2; exit 1
fi
run account withdraw desk-1 USDC 5000 --market "$market" --now "$now"
run account audit
