"""Account health (equity vs IM/MM, states), vectorized. The stateful account operations (margin
units, withdrawals, trades, what-if checks) live in :mod:`solvent.ledger.service`, below this
package in the data flow, because they write the ledger."""
