"""`make bench`: benchmarks that report ratios measured in one run (ours vs. a baseline vs. the limit)."""
