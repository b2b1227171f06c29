"""``fhs-es``: filtered historical simulation Expected Shortfall (METHODOLOGY.md 5).

Modules: :mod:`.params` (validated parameter sets), :mod:`.scenarios` (filtered, floor and
stressed scenario blocks, on the kernels of :mod:`solvent.riskstats`), :mod:`.overlays` (the
requirement from the blocks' ES), :mod:`.liquidity` (order-book add-on), :mod:`.backtest` (the
closed-form one-unit backtest path), :mod:`.model` (the book-wide model and ``MODEL``).
"""
