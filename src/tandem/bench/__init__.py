"""Benchmarks run by `tandem bench NAME` (found by their entry points, group
`tandem.benchmarks`, in pyproject.toml). Each returns a flat dict of its figures."""
