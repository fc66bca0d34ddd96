"""The frozen prefix that is cached and the trainable suffix compose to the whole backbone
(the one split used by few-shot fine-tuning and domain adaptation). Plumbing with timm's tiny
randomly initialised ``test_efficientnet``."""

from __future__ import annotations

import torch
from torch import nn

from headstart.backbones import load_backbone
from headstart.features.extract import Extraction
from headstart.features.prefix import prefix_activations, split_body
from tests.conftest import TINY


def test_prefix_then_suffix_equals_the_body_and_holds_nothing_trainable():
    torch.manual_seed(0)
    bb = load_backbone(TINY, "random")
    top = [p for g in bb.groups[-2:] for p in g.params]
    split = split_body(bb.body, top, (3, 64, 64))
    prefix, suffix = split.prefix, split.suffix
    assert split.where.startswith("blocks.")
    owned = {id(p) for p in prefix.parameters()}
    assert owned and not owned & {id(bb.body.get_parameter(n)) for n in top}
    assert {id(bb.body.get_parameter(n)) for n in top} <= {id(p) for p in suffix.parameters()}
    bb.body.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(suffix(prefix(x)), bb.body(x), atol=1e-5)


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        return self.b(self.a(x)) + x  # not a plain chain of its children


def test_a_body_that_is_not_a_chain_gets_an_empty_prefix():
    body = _Residual()
    split = split_body(body, ["b.weight", "b.bias"], (4,))
    assert split.empty and split.suffix is body and split.shape == (4,)


def test_nothing_trainable_puts_everything_in_the_prefix():
    body = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    split = split_body(body, [], (4,))
    assert len(split.prefix) == 3 and len(split.suffix) == 0 and split.shape == (2,)


def test_prefix_activations_are_cached_once_and_match_the_prefix(tmp_path):
    """The second call reads the cache; both equal the prefix run on the images."""
    from headstart.data.imagedata import ImageFiles
    from headstart.data.sources import Sample
    from headstart.data.transforms import eval_transform
    from headstart.features.cache import FeatureCache
    from tests.conftest import make_image

    torch.manual_seed(0)
    bb = load_backbone(TINY, "random")
    top = [p for g in bb.groups[-1:] for p in g.params]
    split = split_body(bb.body, top, bb.data_config["input_size"])
    files = [make_image(tmp_path / f"{i}.png", (200, 30, 30), i) for i in range(3)]
    tf = eval_transform(bb.data_config)
    cache = FeatureCache(tmp_path / "cache")
    args = (split, bb.name, [Sample(f, "") for f in files], ImageFiles(files, tf), tf)
    run = Extraction(torch.device("cpu"), None, progress=False)
    first = prefix_activations(*args, run, cache)
    again = prefix_activations(*args, run, cache)
    assert first.shape == (3, *split.shape) and torch.equal(first, again)
    assert cache.info()["hits"] == 1
    bb.body.eval()
    with torch.no_grad():
        direct = split.prefix(torch.stack([ImageFiles(files, tf)[i][0] for i in range(3)]))
    assert torch.allclose(first, direct, atol=1e-5)
