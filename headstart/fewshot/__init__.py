"""Few-shot learning: prototypes, episodic evaluation, episodic fine-tuning, Siamese networks."""

from typing import TYPE_CHECKING

import lazy_loader

# Names load on first use: `headstart --help` and light modules stay free of torch.
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "checkpoint": ["FewShotModel", "Verification", "load_fewshot", "verify"],
        "episodes": ["Episode", "mean_ci95", "sample_episodes"],
        "evaluate": ["FewShotScore", "evaluate_fewshot", "score_table"],
        "protonet": ["FewShotClassifier", "proto_logits"],
        "train": ["FewShotConfig", "FewShotResult", "train_fewshot"],
    },
)

if TYPE_CHECKING:
    from headstart.fewshot.checkpoint import FewShotModel, Verification, load_fewshot, verify
    from headstart.fewshot.episodes import Episode, mean_ci95, sample_episodes
    from headstart.fewshot.evaluate import FewShotScore, evaluate_fewshot, score_table
    from headstart.fewshot.protonet import FewShotClassifier, proto_logits
    from headstart.fewshot.train import FewShotConfig, FewShotResult, train_fewshot
