"""MLflow tracking of a run (``--track mlflow``).

One MLflow run per headstart run, in the experiment ``headstart-<kind>`` (``headstart-train``,
``headstart-text``, ...): the config as params, the plan's groups and LRs as params, every
epoch's metrics (with ``step`` = epoch), the final metrics, and as artifacts the report, the
model card, ``summary.json``, ``config.yaml``, ``metrics.csv`` and the best checkpoint. The store
is MLflow's own default: ``MLFLOW_TRACKING_URI`` when set, else a local SQLite file
``./mlflow.db`` with the artifacts in ``./mlruns`` (``mlflow ui`` in the same folder opens it;
MLflow 3 refuses a plain ``./mlruns`` file store unless told otherwise). A resumed run (same
``RUN/mlflow.json``) continues its MLflow run.

MLflow is imported only when a run uses it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from headstart.engine.loop import EpochResult
from headstart.engine.tracking import (
    RunInfo,
    epoch_scalars,
    final_metrics,
    flat_params,
    read_mlflow_link,
    write_mlflow_link,
)
from headstart.errors import HeadstartError

MAX_PARAM = 6000  # MLflow's limit on a param value


def _client() -> tuple[Any, str]:
    """A client of MLflow's own default store: ``MLFLOW_TRACKING_URI`` when set, else
    ``sqlite:///mlflow.db`` in the working directory (artifacts in ``./mlruns``), the store
    ``mlflow ui`` opens there; an existing ``./mlruns`` file store is kept, as MLflow does."""
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise HeadstartError(
            "--track mlflow needs MLflow: pip install mlflow-skinny==3.17.2 sqlalchemy alembic"
        ) from None
    # the SQLite store's first use logs its table creation at INFO on stderr: not the user's news
    logging.getLogger("mlflow.store").setLevel(logging.WARNING)
    uri = mlflow.get_tracking_uri()
    return MlflowClient(tracking_uri=uri), uri


def _safe_key(key: str) -> str:
    # MLflow keys allow letters, digits, _ - . / and space: anything else becomes "_".
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in key)


class MLflowTracker:
    """Logs a run with ``MlflowClient`` (no global state: several runs can log at once)."""

    def __init__(self) -> None:
        self.client: Any = None
        self.run_id = ""
        self.last: dict[str, Any] | None = None

    def start(self, run: RunInfo) -> None:
        from mlflow.entities import Param, RunTag

        link = read_mlflow_link(run.run_dir)
        self.client, uri = _client()
        experiment = f"headstart-{run.kind}"
        if link.get("tracking_uri") == uri and self._reopen(str(link.get("run_id", ""))):
            return
        exp = self.client.get_experiment_by_name(experiment)
        exp_id = exp.experiment_id if exp else self.client.create_experiment(experiment)
        tags = {"headstart.run_dir": str(run.run_dir.resolve()), **run.tags}
        created = self.client.create_run(exp_id, run_name=run.run_dir.name, tags=tags)
        self.run_id = created.info.run_id
        write_mlflow_link(run.run_dir, uri, self.run_id, experiment)
        params = flat_params(run.config)
        for g in run.plan.get("groups", []):
            params[f"plan.{g.get('name')}.lr"] = g.get("lr")
            params[f"plan.{g.get('name')}.unfreeze_epoch"] = g.get("unfreeze_epoch")
        entries = [Param(_safe_key(k), str(v)[:MAX_PARAM]) for k, v in params.items()]
        for i in range(0, len(entries), 100):  # MLflow takes at most 100 params a call
            self.client.log_batch(self.run_id, params=entries[i : i + 100])
        self.client.log_batch(self.run_id, tags=[RunTag("task", run.kind)])

    def _reopen(self, run_id: str) -> bool:
        """Continue the MLflow run of a resumed headstart run, if the store still has it."""
        if not run_id:
            return False
        try:
            self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 - the store lost it: start a new one
            return False
        self.run_id = run_id
        self.client.update_run(run_id, status="RUNNING")
        return True

    def epoch(self, result: EpochResult) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(_safe_key(k), v, now, result.epoch)
            for k, v in epoch_scalars(result, "items").items()
        ]
        self.client.log_batch(self.run_id, metrics=metrics)
        self.last = result.row()

    def finish(self, summary: Mapping[str, Any], files: Sequence[Path]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        step = int(summary.get("epochs", 0))
        metrics = [Metric(k, v, now, step) for k, v in final_metrics(summary, self.last).items()]
        self.client.log_batch(self.run_id, metrics=metrics)
        for f in files:
            folder = f.parent.name if f.parent.name == "checkpoints" else None
            self.client.log_artifact(self.run_id, str(f), folder)

    def close(self, failed: bool = False) -> None:
        if self.client is not None and self.run_id:
            self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")
            self.client = None
