"""Stress tests, margin backtests, procyclicality measures and dynamic margin overlays."""
