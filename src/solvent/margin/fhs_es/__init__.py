"""``fhs-es``: filtered historical simulation Expected Shortfall (METHODOLOGY.md 5).

Modules: :mod:`.params` (validated parameter sets), :mod:`.tail` (finite-sample ES and VaR),
:mod:`.filtering` (EWMA volatility, filtered scenarios, stressed window, long-run vol),
:mod:`.liquidity` (order-book add-on), :mod:`.model` (the book-wide model and ``MODEL``).
"""
