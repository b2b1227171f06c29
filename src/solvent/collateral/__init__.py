"""Collateral: assets (decimals, class), versioned haircut schedules, USD valuation."""
