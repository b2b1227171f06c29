"""Accounts on top of the ledger: health (equity vs IM/MM, states, vectorized) in
:mod:`.health`, and the stateful account operations (margin units, withdrawals, trades, what-if
checks) in :mod:`.service`, which joins the ledger, collateral, margin and health (accounts/
comes after all of them in the data flow, docs/architecture.md)."""
