"""``diagnose`` with the packaged EfficientNet-Lite0 ImageNet weights on real digits images
(scikit-learn's, exported as PNGs): headstart's own set-up is clean for every strategy, and
the tutorial transform with ImageNet's mean/std is named against these weights' config."""

from __future__ import annotations

import pytest
from torchvision import transforms as T

from headstart.backbones import load_backbone
from headstart.data.export import export_dataset
from headstart.doctor import run_checks
from headstart.doctor.folder import diagnose

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "digits"
    return export_dataset("digits", out, train_per_class=10, val_per_class=5, seed=0)


@pytest.mark.parametrize(
    "strategy", ["feature-extraction", "partial", "full", "progressive", "scratch"]
)
def test_headstart_setup_with_lite0_is_clean(digits, strategy):
    found = diagnose(digits, strategy=strategy, epochs=3, device="cpu")
    assert found == [], [f.line() for f in found]


def test_tutorial_imagenet_transform_is_named_for_lite0():
    cfg = load_backbone("tf_efficientnet_lite0").data_config
    tutorial = T.Compose(
        [
            T.Resize(256),
            T.CenterCrop(224),
            T.ToTensor(),
            T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )
    found = run_checks(data_config=cfg, eval_transform=tutorial)
    assert [(f.code, f.level) for f in found] == [("normalization", "error")]
