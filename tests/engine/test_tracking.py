"""Experiment tracking: every run writes TensorBoard events, read back here with TensorBoard's
own event reader, and ``track="mlflow"`` logs the run to MLflow, read back with the MLflow
client. Plumbing with a tiny randomly initialised model: no accuracy is claimed."""

from __future__ import annotations

import pytest

from headstart.classify.fit import fit
from headstart.errors import HeadstartError
from tests.conftest import assert_tensorboard, events, tiny_config


def test_an_image_run_logs_epochs_lrs_hparams_and_the_confusion_matrix(tiny_data, tmp_path):
    res = fit(tiny_data, tiny_config(strategy="progressive", epochs=3, out=str(tmp_path)))
    assert_tensorboard(res.run_dir)
    acc = events(res.run_dir)
    tags = acc.Tags()
    # progressive: the head alone first, then backbone groups join with their own LRs
    lr_tags = [t for t in tags["scalars"] if t.startswith("lr/")]
    assert "lr/head" in lr_tags and len(lr_tags) >= 2
    assert any(t.startswith("throughput/") for t in tags["scalars"])
    assert "confusion_matrix" in tags["images"]
    best = acc.Scalars("hparam/best_val_acc")[-1].value
    assert best == pytest.approx(res.best["val_acc"], abs=1e-6)
    assert "hparams" in acc.PluginTagToContent("hparams") or acc.PluginTagToContent("hparams")


def test_tensorboard_can_be_turned_off(tiny_data, tmp_path):
    res = fit(
        tiny_data, tiny_config(strategy="full", epochs=1, out=str(tmp_path), tensorboard=False)
    )
    assert not (res.run_dir / "tensorboard").exists()


def test_an_unknown_tracker_is_refused_before_the_run_directory(tiny_data, tmp_path):
    with pytest.raises(HeadstartError, match="--track wandb"):
        fit(tiny_data, tiny_config(out=str(tmp_path), track="wandb"))
    assert not (tmp_path / "train").exists()


def test_mlflow_logs_params_metrics_and_artifacts_and_a_resume_continues_it(
    tiny_data, tmp_path, monkeypatch
):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # artifacts go to ./mlruns
    cfg = tiny_config(strategy="full", epochs=2, out=str(tmp_path / "runs"), track="mlflow")
    res = fit(tiny_data, cfg, name="tracked")
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("headstart-train").experiment_id])
    assert run.data.params["strategy"] == "full"
    assert run.data.params["backbone"] == cfg.backbone
    assert "plan.head.lr" in run.data.params
    history = client.get_metric_history(run.info.run_id, "accuracy/val")
    assert [m.step for m in history] == [1, 2]
    assert run.data.metrics["best_val_acc"] == pytest.approx(res.best["val_acc"])
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "summary.json", "checkpoints"} <= files
    checkpoints = {f.path for f in client.list_artifacts(run.info.run_id, "checkpoints")}
    assert "checkpoints/best.safetensors" in checkpoints
    assert run.info.status == "FINISHED"
    # extending the run continues the same MLflow run
    fit(resume=res.run_dir, epochs=3, progress=False)
    (again,) = client.search_runs([run.info.experiment_id])
    assert again.info.run_id == run.info.run_id
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "accuracy/val")]
    assert steps == [1, 2, 3]
