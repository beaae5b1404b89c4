"""cibwatch's benchmark suite: `python -m benchmarks run [NAME...]` regenerates docs/benchmarks.md."""
