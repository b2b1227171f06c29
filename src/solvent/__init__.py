"""Solvent: a portfolio margin and clearing risk engine for crypto derivatives.

The package is laid out by the data flow of docs/architecture.md: market -> instruments ->
pricing -> scenarios -> portfolio -> margin -> collateral -> accounts -> ledger -> liquidation ->
solvency -> stress -> engine -> api/cli. Each package imports only from packages before it in
that list.
"""

__version__ = "0.1.0"
