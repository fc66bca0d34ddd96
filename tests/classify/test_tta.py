"""Test-time augmentation: the logits of the image, its mirror image and two crops, averaged;
``evaluate`` / ``predict --tta`` use it. Plumbing with a tiny random model: no accuracy claim."""

from __future__ import annotations

import json

import torch

from headstart.classify.fit import fit
from headstart.classify.tta import VIEWS, tta_logits
from headstart.cli.main import main
from tests.conftest import tiny_config


def test_the_views_are_a_mirror_image_and_crops_and_logits_are_averaged():
    x = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).reshape(2, 3, 10, 10)
    assert torch.equal(VIEWS["flip"](x)[..., 0], x[..., -1])
    tl, br = VIEWS["crop top-left"](x), VIEWS["crop bottom-right"](x)
    assert tl.shape == br.shape == x.shape
    assert tl[0, 0, 0, 0] == x[0, 0, 0, 0] and br[0, 0, -1, -1] == x[0, 0, -1, -1]
    assert not torch.equal(tl, x) and not torch.equal(tl, br)

    def left_minus_right(v: torch.Tensor) -> torch.Tensor:
        half = v.shape[-1] // 2
        d = v[..., :half].sum((1, 2, 3)) - v[..., half:].sum((1, 2, 3))
        return torch.stack([d, -d], 1)

    expected = sum(left_minus_right(view(x)) for view in VIEWS.values()) / len(VIEWS)
    torch.testing.assert_close(tta_logits(left_minus_right, x), expected)
    # the image and its mirror image cancel: only the two crops are left
    crops = (left_minus_right(tl) + left_minus_right(br)) / 4
    torch.testing.assert_close(tta_logits(left_minus_right, x), crops)


def test_evaluate_and_predict_take_tta(tiny_data, tmp_path, capsys):
    res = fit(tiny_data, tiny_config(strategy="full", epochs=1, out=str(tmp_path)))
    capsys.readouterr()
    assert main(["evaluate", str(res.run_dir), str(tiny_data), "--tta", "--json"]) == 0
    with_tta = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(res.run_dir), str(tiny_data), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert with_tta["n"] == plain["n"] == 9 and 0 <= with_tta["accuracy"] <= 1
    image = str(next((tiny_data / "val" / "red").iterdir()))
    assert main(["predict", str(res.run_dir), image, "--tta", "--json"]) == 0
    (pred,) = json.loads(capsys.readouterr().out)
    assert abs(sum(t["prob"] for t in pred["top"]) - 1) < 1e-4  # all 3 classes, from softmax
