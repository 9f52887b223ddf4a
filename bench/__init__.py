"""Benchmarks of the hedger (`make bench`, issue 16)."""
