"""``--precision auto`` on a CPU: the timed probe picks bf16 only where it is clearly faster,
measures once per CPU and work, and leaves the model and the random stream alone.

The timings here come from probes whose steps sleep a set time per precision (the decision
rule, not the speed of any CPU), and the models are tiny random networks (plumbing only)."""

from __future__ import annotations

import json
import time

import pytest
import torch
from torch import nn

from headstart.classify.checkpoint import Checkpoint
from headstart.classify.fit import fit
from headstart.data.imagedata import ImageData
from headstart.engine import precision, precision_probe
from headstart.engine.precision_probe import (
    Probe,
    cache_file,
    choose_precision,
    cpu_id,
    forward_probe,
    train_probe,
)
from tests.conftest import interrupt_after, tiny_config

CPU = torch.device("cpu")


class SleepingWork:
    """A probe step that takes ``seconds[name]`` in each precision, and counts its calls."""

    def __init__(self, fp32: float, bf16: float):
        self.seconds = {None: fp32, torch.bfloat16: bf16}
        self.calls = 0

    def __call__(self, dtype: torch.dtype | None) -> None:
        self.calls += 1
        time.sleep(self.seconds[dtype])


@pytest.fixture
def bf16_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A CPU with bf16 instructions, whatever this one has, and no measurements yet."""
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.delenv("HEADSTART_PRECISION", raising=False)
    monkeypatch.setenv(precision_probe.CACHE_ENV, str(tmp_path / "measured" / "precision.json"))


@pytest.mark.parametrize(
    ("fp32_s", "bf16_s", "picked"),
    [
        (0.040, 0.010, torch.bfloat16),  # 4x faster: worth its accuracy cost
        (0.030, 0.028, None),  # about as fast: fp32 keeps the accuracy
        (0.010, 0.030, None),  # slower (a CPU with bf16 instructions but no fast bf16 units)
    ],
)
def test_auto_picks_bf16_only_where_it_is_clearly_faster(bf16_cpu, fp32_s, bf16_s, picked):
    work = SleepingWork(fp32_s, bf16_s)
    assert choose_precision("auto", CPU, Probe("forward:m:1", work)) == picked
    record = json.loads(cache_file().read_text())[f"{cpu_id()}|forward:m:1"]
    assert record["precision"] == ("bf16" if picked else "fp32")
    assert record["bf16_speedup"] == pytest.approx(fp32_s / bf16_s, rel=0.5)


def test_a_measurement_is_kept_per_cpu_and_work(bf16_cpu):
    work = SleepingWork(0.02, 0.005)
    first = choose_precision("auto", CPU, Probe("forward:m:1", work))
    calls = work.calls
    assert calls >= 2 * 3  # warm-up and rounds, in both precisions
    assert choose_precision("auto", CPU, Probe("forward:m:1", work)) == first
    assert work.calls == calls  # read from the file, not timed again
    other = SleepingWork(0.005, 0.02)  # other work on the same CPU is timed on its own
    assert choose_precision("auto", CPU, Probe("train:m:1", other)) is None
    assert other.calls > 0
    assert len(json.loads(cache_file().read_text())) == 2


def test_a_damaged_measurement_file_is_measured_again(bf16_cpu):
    cache_file().parent.mkdir(parents=True, exist_ok=True)
    cache_file().write_text("{not json")
    work = SleepingWork(0.02, 0.005)
    assert choose_precision("auto", CPU, Probe("forward:m:1", work)) == torch.bfloat16
    assert work.calls > 0


def test_forced_precisions_and_cpus_without_bf16_are_never_timed(monkeypatch, bf16_cpu):
    work = SleepingWork(0.02, 0.005)
    probe = Probe("forward:m:1", work)
    assert choose_precision("fp32", CPU, probe) is None
    assert choose_precision("bf16", CPU, probe) == torch.bfloat16
    monkeypatch.setenv("HEADSTART_PRECISION", "fp32")
    assert choose_precision("auto", CPU, probe) is None
    monkeypatch.delenv("HEADSTART_PRECISION")
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)
    assert choose_precision("auto", CPU, probe) is None
    assert work.calls == 0 and not cache_file().exists()


def test_small_work_runs_in_fp32_until_this_cpu_was_measured(bf16_cpu):
    work = SleepingWork(0.02, 0.005)
    probe = Probe("forward:m:1", work)
    small = precision_probe.PROBE_MIN_IMAGES - 1
    assert choose_precision("auto", CPU, probe, images=small) is None
    assert work.calls == 0  # a probe would cost more than it can save
    assert choose_precision("auto", CPU, probe, images=10_000) == torch.bfloat16
    assert choose_precision("auto", CPU, probe, images=small) == torch.bfloat16  # measured now


def _tiny_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


@pytest.mark.parametrize("kind", ["forward", "train"])
def test_probes_leave_the_model_and_the_random_stream_alone(kind):
    model = _tiny_cnn()
    model[1].train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    x = torch.randn(4, 3, 16, 16)
    make = forward_probe if kind == "forward" else train_probe
    probe = make("tiny", model, x)
    assert probe.key == f"{kind}:tiny:4x3x16x16"
    rng = torch.get_rng_state()
    precision_probe.time_precisions(probe)
    assert torch.equal(torch.get_rng_state(), rng)  # a run's seeded draws stay the same
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics included
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    assert model[0].weight.is_contiguous()  # the probe's channels-last copies are its own


def test_an_image_run_records_the_precision_it_chose(bf16_cpu, monkeypatch, tiny_data, tmp_path):
    """A training run decides ``auto`` by the probe, trains with that precision and says so in
    its checkpoint, which ``Checkpoint.load(precision="auto")`` then uses (plumbing on a tiny
    random model)."""
    data = ImageData.from_folder(tiny_data)
    timed, bf16_speedup = [], {}

    def fake_times(probe: Probe) -> dict[str, float]:
        timed.append(probe.key)
        return {"fp32": 1.0, "bf16": 1.0 / bf16_speedup["now"]}

    monkeypatch.setattr(precision_probe, "time_precisions", fake_times)
    monkeypatch.setattr(precision_probe, "PROBE_MIN_IMAGES", 1)
    for speedup, want in ((3.0, "bf16"), (1.1, "fp32")):
        bf16_speedup["now"] = speedup
        cache_file().unlink(missing_ok=True)
        cfg = tiny_config(precision="auto", strategy="full", out=str(tmp_path / want))
        run = fit(data, cfg).run_dir
        ckpt = Checkpoint.load(run)
        assert ckpt.meta.precision == want
        assert ckpt.dtype == (torch.bfloat16 if want == "bf16" else None)
    assert timed[0].startswith("train:test_efficientnet:")  # the body trains: a training step
    cfg = tiny_config(precision="auto", strategy="feature-extraction", out=str(tmp_path / "fe"))
    fit(data, cfg)
    assert timed[-1].startswith("forward:test_efficientnet:16x")  # only the feature pass


def test_work_that_fails_in_bf16_runs_in_fp32(bf16_cpu):
    def step(dtype: torch.dtype | None) -> None:
        if dtype is not None:
            raise RuntimeError("\"slow_conv2d_cpu\" not implemented for 'BFloat16'")

    assert choose_precision("auto", CPU, Probe("forward:m:1", step)) is None
    record = json.loads(cache_file().read_text())[f"{cpu_id()}|forward:m:1"]
    assert record["precision"] == "fp32" and "BFloat16" in record["error"]


def test_a_read_only_cache_still_decides(bf16_cpu, monkeypatch, tmp_path):
    def refuse(path, obj):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(precision_probe, "write_json_atomic", refuse)
    work = SleepingWork(0.02, 0.005)
    assert choose_precision("auto", CPU, Probe("forward:m:1", work)) == torch.bfloat16


def test_a_resumed_run_keeps_the_precision_it_trained_with(
    bf16_cpu, monkeypatch, tiny_data, tmp_path
):
    """Interrupted in bf16, resumed after the measurements were lost and the CPU now measures
    bf16 slower: the run goes on in bf16, as its checkpoint says."""
    speedup = {"now": 3.0}

    def fake_times(probe: Probe) -> dict[str, float]:
        return {"fp32": 1.0, "bf16": 1.0 / speedup["now"]}

    monkeypatch.setattr(precision_probe, "time_precisions", fake_times)
    monkeypatch.setattr(precision_probe, "PROBE_MIN_IMAGES", 1)
    cfg = tiny_config(precision="auto", strategy="full", epochs=2, out=str(tmp_path))
    with interrupt_after(monkeypatch, 1), pytest.raises(KeyboardInterrupt):
        fit(ImageData.from_folder(tiny_data), cfg, name="cut")
    run = tmp_path / "train" / "cut"
    assert Checkpoint.load(run, "last").meta.precision == "bf16"
    cache_file().unlink()
    speedup["now"] = 0.5
    resumed = fit(resume=run, progress=False)
    assert len(resumed.history) == 2
    assert Checkpoint.load(run, "last").meta.precision == "bf16"
