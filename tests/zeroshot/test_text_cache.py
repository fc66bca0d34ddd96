"""Text vectors kept per text encoder and per text: known texts are never embedded again, a
changed label list embeds only its new labels, and when every text is known the model is not
loaded. A tiny random BERT folder (plumbing only: the vectors mean nothing)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from headstart.zeroshot import text as text_module
from headstart.zeroshot.text import SentenceEncoder

DESCRIPTIONS = [f"a photo of a thing number {i}" + " long" * (i % 7) for i in range(40)]


@pytest.fixture
def counted(monkeypatch):
    """The texts each call of the model's encoding saw."""
    seen: list[list[str]] = []
    original = SentenceEncoder._encode

    def spy(self, texts, batch_size=128):
        seen.append(list(texts))
        return original(self, texts, batch_size)

    monkeypatch.setattr(SentenceEncoder, "_encode", spy)
    return seen


def test_known_texts_are_read_back_without_loading_the_model(tiny_bert, counted):
    first = SentenceEncoder(str(tiny_bert)).encode_text(DESCRIPTIONS)
    assert counted == [DESCRIPTIONS]
    again = SentenceEncoder(str(tiny_bert))
    assert np.array_equal(again.encode_text(DESCRIPTIONS[::-1]), first[::-1])
    assert "_loaded" not in again.__dict__  # neither tokenizer nor weights were read
    assert len(counted) == 1


def test_a_changed_list_embeds_only_its_new_texts(tiny_bert, counted):
    enc = SentenceEncoder(str(tiny_bert))
    enc.encode_text(["cat", "cup of coffee", "rocket"])
    out = SentenceEncoder(str(tiny_bert)).encode_text(["rocket", "butterfly", "cat", "butterfly"])
    assert counted[-1] == ["butterfly"]
    assert np.array_equal(out[1], out[3])
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_batches_sorted_by_length_give_the_vectors_of_one_text_at_a_time(tiny_bert):
    enc = SentenceEncoder(str(tiny_bert))
    together = enc._encode(DESCRIPTIONS, batch_size=8)  # padded batches, sorted by length
    alone = np.concatenate([enc._encode([t]) for t in DESCRIPTIONS[:10]])
    assert np.allclose(together[:10], alone, atol=1e-5)


def test_a_changed_model_folder_or_a_damaged_file_is_embedded_anew(tiny_bert, counted, tmp_path):
    enc = SentenceEncoder(str(tiny_bert))
    enc.encode_text(["cat", "dog"])
    enc.cache.path.write_bytes(b"not a numpy file")
    SentenceEncoder(str(tiny_bert)).encode_text(["cat", "dog"])
    assert len(counted) == 2  # the damaged file was ignored, then rewritten
    SentenceEncoder(str(tiny_bert)).encode_text(["cat", "dog"])
    assert len(counted) == 2
    weights = tiny_bert / "config.json"
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # "edited"
    try:
        changed = SentenceEncoder(str(tiny_bert))
        assert changed.cache.path != enc.cache.path
        changed.encode_text(["cat", "dog"])
        assert len(counted) == 3
    finally:
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_the_cache_file_holds_no_pickled_objects(tiny_bert):
    enc = SentenceEncoder(str(tiny_bert))
    enc.encode_text(["cat", "dog"])
    with np.load(enc.cache.path, allow_pickle=False) as f:  # raises if it needed unpickling
        assert f["texts"].tolist() == ["cat", "dog"]
        assert f["vectors"].dtype == np.float32
    assert text_module.TextVectorCache("unknown-encoder").load() == {}  # none yet: empty
