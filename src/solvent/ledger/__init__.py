"""Exact double-entry ledger (integers of asset base units) on SQLite or PostgreSQL."""
