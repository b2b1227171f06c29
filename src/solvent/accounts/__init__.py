"""Accounts, sub-accounts (cross/isolated), health and pre-trade checks on the ledger."""
