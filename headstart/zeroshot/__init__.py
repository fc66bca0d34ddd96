"""Zero-shot labels and text-to-image search: CLIP (Hugging Face) or ConSE (offline)."""

from headstart.zeroshot.classify import ZeroShotPrediction, ZeroShotResult, parse_labels, zeroshot

__all__ = ["ZeroShotPrediction", "ZeroShotResult", "parse_labels", "zeroshot"]
