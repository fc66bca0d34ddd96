"""End to end with the packaged EfficientNet-Lite0 ImageNet weights and real images."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from headstart.backbones import PACKAGED, load_backbone, read_state_dict
from headstart.backbones.weights import load_into
from headstart.classify.checkpoint import Checkpoint
from headstart.classify.fit import fit
from headstart.config import TrainConfig
from headstart.data.export import export_dataset
from headstart.data.transforms import eval_transform
from headstart.engine.precision import precision_name
from headstart.engine.precision_probe import choose_precision
from headstart.features.extract import extraction_probe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    return export_dataset("fashion-mnist", tmp_path_factory.mktemp("fm") / "fm", 50, 20, seed=0)


@pytest.fixture(scope="module")
def fe_run(fmnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return fit(
        fmnist, TrainConfig(strategy="feature-extraction", epochs=5, out=str(out), progress=False)
    )


def test_feature_extraction_learns_fashion_mnist(fmnist, fe_run):
    result = fe_run
    # 500 train images: frozen ImageNet features + a linear head are far above chance (0.1)
    # (measured 0.86 on 500 train / 100 val by `benchmarks/run.py feature-extraction`).
    assert result.best["val_acc"] >= 0.6
    ckpt = Checkpoint.load(result.run_dir)
    assert ckpt.data_config["mean"] == [0.5, 0.5, 0.5]
    ev = ckpt.evaluate(fmnist)
    # The checkpoint runs the body as the feature cache did (batch norm folded, same precision):
    # measured equal (0.805 both, 1,000 train images); unfolded under bf16 it read 0.785. One
    # image of slack (200 val images).
    assert ev.accuracy == pytest.approx(result.best["val_acc"], abs=0.0051)


def _imagenet_lite0() -> torch.nn.Module:
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    load_into(model, read_state_dict(PACKAGED["tf_efficientnet_lite0"].path()), "package")
    return model.eval()


def test_bf16_and_auto_predictions_agree_with_fp32(fe_run, tmp_path):
    """A trained classifier's top-1 under bf16 autocast + channels-last, and under the
    precision ``--precision auto`` picks on this CPU (the timed probe of
    ``engine/precision_probe.py``), vs the fp32 reference, on 400 real images it was not
    trained on. Measured for bf16 on 1,000 such images: 99.1% for a head of 1,000 train images
    on an AMD EPYC (the 9 disagreements all had an fp32 top-1 margin under 0.07) and 98.9% on an
    Intel Xeon with AMX (where auto picked bf16 for extraction; another run there measured
    99.1%); a head of only 200 train images has smaller margins and agreed on 98.4% (this
    head: 500). The bound leaves 2 points for other CPUs' bf16 rounding (4 standard deviations
    of a 99% agreement counted on 400 images); a broken bf16 or channels-last path disagrees on
    far more."""
    run = fe_run.run_dir
    sample = export_dataset("fashion-mnist", tmp_path / "sample", 1, 40, seed=1)
    images = [sample / "val"]
    bb, cpu = load_backbone(), torch.device("cpu")
    probe = extraction_probe(bb, cpu)
    auto = precision_name(choose_precision("auto", cpu, probe, images=1000))
    fp32 = Checkpoint.load(run, precision="fp32").predict(images, top_k=1)
    for name in dict.fromkeys(["bf16", auto]):
        other = Checkpoint.load(run, precision=name).predict(images, top_k=1)
        agree = np.mean([a.top[0][0] == b.top[0][0] for a, b in zip(fp32, other)])
        assert len(fp32) == 400 and agree >= 0.97, (name, agree)


def test_packaged_weights_recognise_sample_photos():
    """The positional mapping of the packaged weights is right: known photos, known classes."""
    from PIL import Image
    from skimage import data as skdata

    model = _imagenet_lite0()
    tf = eval_transform(timm.data.resolve_data_config({}, model=model))
    info = timm.data.ImageNetInfo()
    with torch.no_grad():
        probs = model(torch.stack([tf(Image.fromarray(skdata.coffee()))])).softmax(1)[0]
    top = int(probs.argmax())
    assert "espresso" in info.index_to_description(top).lower()
    assert float(probs[top]) > 0.5
    assert np.isfinite(probs.numpy()).all()
