"""Frozen-backbone features: extracted once, cached on disk."""

from headstart.features.cache import FeatureCache, default_cache_dir
from headstart.features.extract import Extraction, extract_features, iter_features

__all__ = ["Extraction", "FeatureCache", "default_cache_dir", "extract_features", "iter_features"]
