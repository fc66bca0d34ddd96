"""The CLIP path with a tiny randomly initialised CLIP built from a config and saved as a local
Hugging Face folder: this checks plumbing only (loading through ``from_pretrained``, the
processor's preprocessing, prompt ensembling, text-to-image search), never accuracy. No
CLIP weights ship in any package."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from headstart.embeddings import VectorIndex, embed, search
from headstart.errors import BackboneError, HeadstartError
from headstart.zeroshot import zeroshot
from headstart.zeroshot.classify import label_vectors
from tests.conftest import make_folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("clip") / "tiny-clip"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in string.ascii_lowercase + string.digits + " .,'-{}":
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    text = dict(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=64,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    torch.manual_seed(0)
    CLIPModel(
        CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    ).save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("img") / "data", n_train=3, n_val=1)


def test_zeroshot_with_clip_returns_a_distribution_over_the_labels(tiny_clip, images):
    res = zeroshot(
        [images / "val"],
        "red square,green square,blue square",
        f"clip:{tiny_clip}",
        precision="fp32",
        top_k=3,
    )
    assert res.method.startswith("CLIP") and len(res.predictions) == 3
    for p in res.predictions:
        assert sum(prob for _, prob in p.top) == pytest.approx(1.0, abs=1e-5)
        assert set(p.similarity) == {"red square", "green square", "blue square"}


def test_prompt_ensembling_is_the_normalised_mean_over_templates(tiny_clip):
    from headstart.zeroshot.clip import clip_encoder

    text = clip_encoder(str(tiny_clip), precision="fp32").text
    assert text is not None
    templates = ["a photo of a {}.", "art of the {}."]
    got = label_vectors(text, ["cat", "rocket"], templates)
    raw = text.encode_text(["a photo of a cat.", "art of the cat."]).mean(0)
    np.testing.assert_allclose(got[0], raw / np.linalg.norm(raw), atol=1e-5)


def test_clip_index_answers_text_queries(tiny_clip, images, tmp_path):
    from headstart.encoders import index_encoder, load_encoder

    encoder = load_encoder(f"clip:{tiny_clip}", precision="fp32")
    emb = embed(images / "train", tmp_path / "emb", encoder, progress=False)
    assert emb.meta["text_space"] and emb.vectors.shape == (9, 16)
    VectorIndex.build(emb, tmp_path / "index")
    index = tmp_path / "index"
    res = search(index, index_encoder(index, precision="fp32"), texts=["a red square"], k=4)
    assert res[0].kind == "text" and len(res[0].hits) == 4
    assert res[0].hits[0].score >= res[0].hits[-1].score


def test_clip_errors_are_one_clear_line(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")  # images are checked before the model
    with pytest.raises(BackboneError, match="cannot load CLIP"):
        zeroshot([tmp_path], "a,b", f"clip:{tmp_path / 'nothing-here'}")
    with pytest.raises(HeadstartError, match="at least 2"):
        zeroshot([tmp_path], "cat", "conse")
