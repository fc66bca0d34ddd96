"""Few-shot learning: prototypes, episodic evaluation, episodic fine-tuning, Siamese networks."""

from headstart.fewshot.checkpoint import FewShotModel, Verification, load_fewshot, verify
from headstart.fewshot.episodes import Episode, mean_ci95, sample_episodes
from headstart.fewshot.evaluate import FewShotScore, evaluate_fewshot, score_table
from headstart.fewshot.protonet import FewShotClassifier, proto_logits
from headstart.fewshot.train import FewShotConfig, FewShotResult, train_fewshot

__all__ = [
    "Episode",
    "FewShotClassifier",
    "FewShotConfig",
    "FewShotModel",
    "FewShotResult",
    "FewShotScore",
    "Verification",
    "evaluate_fewshot",
    "load_fewshot",
    "mean_ci95",
    "proto_logits",
    "sample_episodes",
    "score_table",
    "train_fewshot",
    "verify",
]
