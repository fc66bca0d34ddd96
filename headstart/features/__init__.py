"""Frozen-backbone features: extracted once, cached on disk."""

from headstart.features.cache import FeatureCache, default_cache_dir
from headstart.features.extract import extract_features, iter_features

__all__ = ["FeatureCache", "default_cache_dir", "extract_features", "iter_features"]
