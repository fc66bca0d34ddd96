"""Recommend a strategy for a data set, with the measurements and reasons behind it."""

from headstart.recommend.advise import Recommendation, recommend

__all__ = ["Recommendation", "recommend"]
