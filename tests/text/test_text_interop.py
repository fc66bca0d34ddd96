"""Text adapter runs as PEFT saves them: ``PeftModel.from_pretrained`` on the base encoder
loads RUN/peft/ and, with the saved head, predicts exactly as the checkpoint. Plumbing with a
tiny random BERT: no accuracy is claimed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from text_helpers import tiny_text_config

from headstart.text.checkpoint import TextCheckpoint
from headstart.text.fit import fit_text

TEXTS = ["a superb and moving film", "dull, clumsy and tedious", "the cast was really great"]


@pytest.mark.parametrize("strategy", ["lora", "ia3"])
def test_peft_loads_the_adapter_and_predicts_identically(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path, strategy: str
) -> None:
    from peft import PeftModel
    from transformers import AutoModel, AutoTokenizer

    from headstart.text.model import mean_pool

    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), strategy=strategy, epochs=2)
    res = fit_text(config=cfg, out=str(tmp_path))
    folder = res.run_dir / "peft"
    adapter = json.loads((folder / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(tiny_bert)
    head_info = json.loads((folder / "head.json").read_text())
    assert head_info["classes"] == ["fresh", "rotten"]

    encoder = PeftModel.from_pretrained(AutoModel.from_pretrained(str(tiny_bert)), str(folder))
    encoder.eval()
    head = torch.nn.Linear(32, 2)
    head.load_state_dict(load_file(str(folder / "head.safetensors")))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokens = tokenizer(TEXTS, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        pooled = mean_pool(encoder(**tokens).last_hidden_state, tokens["attention_mask"])
        theirs = head(pooled).softmax(1).numpy()
    ours = TextCheckpoint.load(res.run_dir, "best", device="cpu", precision="fp32")
    np.testing.assert_allclose(theirs, ours.probabilities(TEXTS), atol=1e-6)
    # without the adapter the base encoder predicts otherwise
    with torch.no_grad():
        base = AutoModel.from_pretrained(str(tiny_bert)).eval()
        plain = head(mean_pool(base(**tokens).last_hidden_state, tokens["attention_mask"]))
    assert not np.allclose(plain.softmax(1).numpy(), theirs, atol=1e-4)
    card = (res.run_dir / "MODEL_CARD.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["library_name"] == "peft" and meta["pipeline_tag"] == "text-classification"


def test_a_full_fine_tuning_run_has_no_peft_folder(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path
) -> None:
    res = fit_text(
        config=tiny_text_config(tiny_bert, data=str(reviews_csv), strategy="full"),
        out=str(tmp_path),
    )
    assert not (res.run_dir / "peft").exists() and (res.run_dir / "MODEL_CARD.md").is_file()
