"""Benchmarks of huren (not part of `make test`); see bench/README.md."""
