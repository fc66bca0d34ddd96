"""``embed``: vectors for every image of a folder, saved with ids, paths and labels."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from headstart.data.images import check_image
from headstart.embeddings.encoders import DEFAULT_SPEC, ImageEncoder, backbone_encoder
from headstart.embeddings.store import EmbeddingSet, Item, collect_items, save_embeddings
from headstart.errors import DataError, HeadstartError


def check_items(items: list[Item], skip_bad: bool) -> tuple[list[Item], list[tuple[str, str]]]:
    """Drop undecodable images when ``skip_bad``, else fail naming every one of them."""
    good, bad = [], []
    for it in items:
        why = check_image(it.path)
        if why is None:
            good.append(it)
        else:
            bad.append((str(it.path), why))
    if bad and not skip_bad:
        listing = "; ".join(f"{p} ({w})" for p, w in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise DataError(
            f"{len(bad)} image(s) cannot be decoded: {listing}{more}. "
            "Fix or remove them, or pass --skip-bad"
        )
    if not good:
        raise DataError("no decodable images to embed")
    return good, bad


def embed(
    inputs: str | Path | Sequence[str | Path],
    out: str | Path,
    encoder: ImageEncoder | None = None,
    split: str | None = None,
    skip_bad: bool = False,
    progress: bool = True,
) -> EmbeddingSet:
    """Embed every image of ``inputs`` with ``encoder`` and write ``out/`` (see ``store``).

    ``encoder``: any encoder (``headstart.load_encoder(spec)`` names them); by default the
    pooled features of the packaged EfficientNet-Lite0.

    >>> emb = embed("data/fmnist", "runs/embed/fmnist", split="val")
    >>> emb.vectors.shape, emb.classes[:2]
    ((1000, 1280), ('ankle_boot', 'bag'))
    """
    if isinstance(encoder, str):
        raise HeadstartError(
            f"embed takes an encoder, not '{encoder}': pass headstart.load_encoder('{encoder}')"
        )
    paths = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    items, skipped = check_items(collect_items(paths, split), skip_bad)
    encoder = encoder or backbone_encoder(DEFAULT_SPEC)
    start = time.perf_counter()
    vectors = encoder.encode([it.path for it in items], progress=progress)
    meta = {
        "encoder": encoder.meta(),
        "text_space": encoder.text is not None,
        "inputs": [str(p) for p in paths],
        "split": split,
        "skipped": skipped,
        "seconds": round(time.perf_counter() - start, 3),
    }
    return save_embeddings(out, vectors, items, meta)
