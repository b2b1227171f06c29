"""Benchmarks: each ``bench_<topic>.py`` has a ``main()`` printing timings and ratios against a
baseline measured in the same run. Run all with ``python -m benchmarks`` (or ``make bench``), or
one with ``python -m benchmarks pricing``."""
