"""Account health (equity vs IM/MM, states), vectorized.

The stateful account operations (margin units, withdrawals, trades, what-if checks) live in
:mod:`solvent.engine.accounts`, the pipeline that joins the ledger, collateral, margin and health
(engine/ comes after all of them in the data flow)."""
