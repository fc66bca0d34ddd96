"""Compare strategies on one data set: the transfer gap."""

from headstart.compare.run import DEFAULT_STRATEGIES, CompareResult, compare

__all__ = ["DEFAULT_STRATEGIES", "CompareResult", "compare"]
