"""Image runs as other tools load them: timm reads RUN/timm/ and predicts exactly as the
checkpoint; every run has a model card in the Hugging Face layout. Plumbing with a tiny
randomly initialised model: no accuracy is claimed."""

from __future__ import annotations

import json

import pytest
import timm
import torch
import yaml
from PIL import Image

from headstart.classify.checkpoint import Checkpoint
from headstart.classify.fit import fit
from headstart.data.transforms import eval_transform
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tests.conftest import make_folder

    root = tmp_path_factory.mktemp("interop")
    data = make_folder(root / "data")
    res = fit(data, tiny_config(strategy="full", epochs=2, dropout=0.1, out=str(root / "runs")))
    return res.run_dir, data


def test_timm_loads_the_exported_weights_and_predicts_identically(run):
    run_dir, data = run
    cfg = json.loads((run_dir / "timm" / "config.json").read_text())
    assert cfg["architecture"] == "test_efficientnet" and cfg["num_classes"] == 3
    assert cfg["label_names"] == ["blue", "green", "red"]
    file = str(run_dir / "timm" / "model.safetensors")
    model = timm.create_model(
        cfg["architecture"],
        pretrained=True,
        num_classes=cfg["num_classes"],
        pretrained_cfg_overlay={**cfg["pretrained_cfg"], "file": file},
    ).eval()
    ckpt = Checkpoint.load(run_dir, precision="fp32")
    # timm's own preprocessing from the exported config equals the checkpoint's
    resolved = timm.data.resolve_data_config({}, model=model)
    assert tuple(resolved["mean"]) == tuple(ckpt.data_config["mean"])
    assert tuple(resolved["input_size"]) == tuple(ckpt.data_config["input_size"])
    tf = eval_transform(ckpt.data_config)
    images = sorted((data / "val").rglob("*.png"))
    x = torch.stack([tf(Image.open(p).convert("RGB")) for p in images])
    with torch.no_grad():
        ours = ckpt.model(x)
        theirs = model(x)
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)
    # the weights matter: timm's random init predicts otherwise
    fresh = timm.create_model(cfg["architecture"], num_classes=3).eval()
    with torch.no_grad():
        assert not torch.allclose(fresh(x), ours, atol=1e-3)
    # and the checkpoint path of timm loads the same file
    again = timm.create_model(cfg["architecture"], num_classes=3, checkpoint_path=file).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(x), ours, atol=1e-5, rtol=1e-5)


def test_an_mlp_head_is_not_exported(tiny_data, tmp_path):
    res = fit(
        tiny_data,
        tiny_config(strategy="feature-extraction", epochs=1, head_hidden=8, out=str(tmp_path)),
    )
    assert not (res.run_dir / "timm").exists()
    assert (res.run_dir / "MODEL_CARD.md").is_file()


def test_the_model_card_has_hub_metadata_the_plan_and_measured_limitations(run):
    run_dir, _ = run
    text = (run_dir / "MODEL_CARD.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert meta["library_name"] == "timm" and meta["pipeline_tag"] == "image-classification"
    assert "headstart" in meta["tags"] and "strategy-full" in meta["tags"]
    assert meta["datasets"] == ["data"] and meta["base_model"] == "test_efficientnet"
    (result,) = meta["model-index"][0]["results"]
    acc = next(m for m in result["metrics"] if m["type"] == "accuracy")
    assert acc["value"] == pytest.approx(summary["best"]["val_acc"], abs=5e-5)
    for section in ("## Intended use", "## Training data", "## Training procedure",
                    "## Evaluation", "## Limitations", "## How to use"):  # fmt: skip
        assert section in text, section
    assert "| head |" in text and "| blocks.0 |" in text  # the plan's groups
    for row in summary["per_class"]:  # the evaluation table is the summary's
        assert f"| {row['class']} | {row['precision']:.3f} | {row['recall']:.3f} |" in text
    assert f"Validated on {sum(r['support'] for r in summary['per_class'])} examples" in text


def test_low_recall_classes_are_named():
    from headstart.engine.model_card import low_recall

    rows = [
        {"class": "a", "recall": 0.95, "support": 10},
        {"class": "b", "recall": 0.9, "support": 10},
        {"class": "c", "recall": 0.5, "support": 10},
        {"class": "d", "recall": 0.0, "support": 0},  # no validation example: not judged
    ]
    assert [r["class"] for r in low_recall(rows)] == ["c"]
    assert low_recall(rows[:2]) == []
