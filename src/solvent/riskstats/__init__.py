"""Pure array kernels of risk statistics, shared by margin models and stress tools.

:mod:`.ewma` (EWMA volatility, filtered and raw rolling-window sums, long-run and trailing
volatility, the stressed window) and :mod:`.tail` (finite-sample Expected Shortfall and Value at
Risk). No market data, no clock, no I/O: numpy arrays in, numpy arrays out.
"""
