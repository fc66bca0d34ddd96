"""Text transfer: a pretrained encoder adapted to labelled texts, frozen, fully fine-tuned,
or through PEFT adapters (LoRA, IA3, prompt tuning, prefix tuning).

>>> from headstart.text import TextCheckpoint, compare_text, fit_text
>>> result = fit_text("data/rt.csv", text_col="review", strategy="lora")
>>> TextCheckpoint.load(result.run_dir).predict(["a triumph"])[0].top
"""

from typing import TYPE_CHECKING

import lazy_loader

# Names load on first use: `headstart --help` and light modules stay free of torch.
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "checkpoint": ["TextCheckpoint", "TextPrediction"],
        "compare": ["CompareResult", "compare_text"],
        "config": ["STRATEGIES", "TextConfig"],
        "data": ["TextData"],
        "datasets": ["TEXT_DATASETS", "export_text_dataset"],
        "fit": ["TextFitResult", "fit_text"],
    },
)

if TYPE_CHECKING:
    from headstart.text.checkpoint import TextCheckpoint, TextPrediction
    from headstart.text.compare import CompareResult, compare_text
    from headstart.text.config import STRATEGIES, TextConfig
    from headstart.text.data import TextData
    from headstart.text.datasets import TEXT_DATASETS, export_text_dataset
    from headstart.text.fit import TextFitResult, fit_text
