"""Embedding folders, probes, maps and search with timm's tiny random ``test_efficientnet``:
plumbing and invariants only, no accuracy of a real backbone is claimed here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from headstart.embeddings import (
    EmbeddingSet,
    VectorIndex,
    contact_sheet,
    embed,
    make_map,
    probe,
    search,
)
from headstart.embeddings.store import collect_items
from headstart.encoders import index_encoder, load_encoder
from headstart.errors import DataError, HeadstartError
from tests.conftest import TINY, make_folder


def fast() -> dict:
    """The tiny random backbone as the encoder (plumbing), fp32, quiet."""
    return dict(encoder=load_encoder(TINY, "random", precision="fp32"), progress=False)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "data", n_train=8, n_val=4)


def test_collect_items_reads_each_layout(data, tmp_path):
    split = collect_items([data])
    assert {it.split for it in split} == {"train", "val"} and all(it.label for it in split)
    assert split[0].id == "train/blue/0.png"
    classes = collect_items([data / "train"])
    assert {it.label for it in classes} == {"red", "green", "blue"} and classes[0].split == ""
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(2):
        Image.new("RGB", (8, 8)).save(flat / f"{i}.png")
    assert [(it.id, it.label) for it in collect_items([flat])] == [("0.png", ""), ("1.png", "")]
    with pytest.raises(DataError, match="no such image"):
        collect_items([tmp_path / "missing"])


def test_embed_writes_vectors_items_and_meta_that_load_back(data, tmp_path):
    emb = embed(data, tmp_path / "emb", **fast())
    assert emb.vectors.shape == (36, 256)
    again = EmbeddingSet.load(tmp_path / "emb")
    np.testing.assert_array_equal(np.asarray(again.vectors), np.asarray(emb.vectors))
    assert again.classes == ("blue", "green", "red")
    assert again.meta["encoder"]["spec"] == TINY and not again.meta["text_space"]
    assert (again.labels() >= 0).all()


def test_embed_refuses_undecodable_images_unless_skipped(data, tmp_path):
    bad = data / "train" / "red" / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        embed(data, tmp_path / "emb", **fast())
    emb = embed(data, tmp_path / "emb", skip_bad=True, **fast())
    assert len(emb.items) == 36 and bad.read_bytes() == b"not a png"  # never modified
    assert emb.meta["skipped"][0][0] == str(bad)


def test_incomplete_folder_is_reported(data, tmp_path):
    embed(data, tmp_path / "emb", **fast())
    meta = json.loads((tmp_path / "emb" / "meta.json").read_text())
    meta["n"] = 5
    (tmp_path / "emb" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="incomplete"):
        EmbeddingSet.load(tmp_path / "emb")


def test_probe_uses_the_val_split_and_separates_colours(data, tmp_path):
    emb = embed(data, tmp_path / "emb", **fast())
    res = probe(emb)
    assert res.holdout == "the data's val split" and (res.n_train, res.n_test) == (24, 12)
    # three solid colours: even random features separate them
    assert res.linear_acc == 1.0 and res.knn_acc == 1.0 and res.kmeans_purity == 1.0
    rnd = probe(emb, holdout="random", test_size=0.25)
    assert rnd.holdout.startswith("random") and rnd.n_test == 9


def test_pixel_baseline_and_map_png(data, tmp_path):
    emb = embed(data / "val", tmp_path / "pix", load_encoder("pixels:8"), progress=False)
    assert emb.vectors.shape == (12, 3 * 8 * 8) and float(np.max(emb.vectors)) <= 1.0
    png = make_map(emb, "pca")
    assert png == tmp_path / "pix" / "map-pca.png"
    with Image.open(png) as im:
        assert im.width > 300
    with pytest.raises(HeadstartError, match="--method"):
        make_map(emb, "mds")


def test_search_finds_the_query_itself_and_draws_a_sheet(data, tmp_path):
    emb = embed(data, tmp_path / "emb", **fast())
    VectorIndex.build(emb, tmp_path / "index")
    query = data / "val" / "green" / "1.png"
    res = search(
        tmp_path / "index", index_encoder(tmp_path / "index", precision="fp32"), [query], k=3
    )
    hits = res[0].hits
    assert hits[0].path == str(query) and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert all(h.label == "green" for h in hits)
    png = contact_sheet(tmp_path / "sheet.png", res)
    assert png.is_file()
    with pytest.raises(HeadstartError, match="no text"):
        search(tmp_path / "index", index_encoder(tmp_path / "index"), texts=["a red square"])


def test_search_refuses_an_index_whose_encoder_changed(data, tmp_path):
    emb = embed(data, tmp_path / "emb", **fast())
    VectorIndex.build(emb, tmp_path / "index")
    meta_path = tmp_path / "index" / "index.json"
    meta = json.loads(meta_path.read_text())
    meta["embeddings"]["encoder"]["weights_id"] = "something-else"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(HeadstartError, match="weights .* changed"):
        search(
            tmp_path / "index", index_encoder(tmp_path / "index"), [data / "val" / "red" / "0.png"]
        )


def test_embed_with_a_fine_tuned_classifier_checkpoint(data, tmp_path):
    from headstart.classify.fit import fit
    from tests.conftest import tiny_config

    run = fit(data, tiny_config(strategy="partial:1", epochs=1, out=str(tmp_path / "runs"))).run_dir
    encoder = load_encoder(str(run), precision="fp32")
    emb = embed(data / "val", tmp_path / "emb", encoder, progress=False)
    assert emb.vectors.shape == (12, 256)
    assert emb.meta["encoder"]["checkpoint"].endswith(".safetensors")
    assert emb.meta["encoder"]["description"].startswith("fine-tuned backbone")
