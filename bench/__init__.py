"""Benchmarks of plue-sidecar through its real process and pipes, against floors."""
