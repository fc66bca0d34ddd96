"""A run directory as it is on disk (its config and ``last`` checkpoint), and the state a
resumed run continues from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from headstart.engine.checkpoint import CheckpointMeta, read_meta, read_optimizer_state
from headstart.errors import HeadstartError


@dataclass
class ResumeState:
    epoch: int
    optimizer: dict[str, dict[str, torch.Tensor]]
    history: list[dict[str, Any]]
    best: dict[str, Any]
    seconds: float = 0.0  # wall time of the run before it stopped


@dataclass
class Stored:
    """A run directory as it is on disk: its config and its ``last`` checkpoint."""

    run_dir: Path
    config: dict[str, Any]
    last: Path
    meta: CheckpointMeta

    @classmethod
    def open(cls, run_dir: str | Path) -> Stored:
        run_dir = Path(run_dir)
        cfg_path, last = run_dir / "config.yaml", run_dir / "checkpoints" / "last.safetensors"
        if not cfg_path.is_file() or not last.is_file():
            raise HeadstartError(
                f"cannot resume {run_dir}: it has no config.yaml and checkpoints/last.safetensors "
                "(give the folder of a run that finished at least one epoch)"
            )
        try:
            config = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            config = None
        if not isinstance(config, dict):
            raise HeadstartError(f"cannot resume {run_dir}: {cfg_path} is not a config mapping")
        return cls(run_dir, config, last, read_meta(last))

    @property
    def planned(self) -> int:
        return int(self.config.get("epochs", self.meta.epoch))

    def finished(self) -> bool:
        return self.meta.epoch >= self.planned

    def with_epochs(self, epochs: int | None, extendable: bool = True) -> dict[str, Any]:
        """The config to resume with: ``epochs`` extends a finished run (only)."""
        config = dict(self.config)
        if epochs is None or epochs == self.planned:
            return config
        done = self.meta.epoch
        if done < self.planned:
            raise HeadstartError(
                f"--epochs {epochs}: {self.run_dir} stopped at epoch {done} of {self.planned}; "
                "resume it without --epochs first, then extend it"
            )
        if epochs < self.planned:
            raise HeadstartError(
                f"--epochs {epochs}: {self.run_dir} already trained {done} epochs; give more "
                "epochs to extend it"
            )
        if not extendable:
            raise HeadstartError(
                f"--epochs {epochs}: a {config.get('strategy')} run cannot be extended (its "
                "unfreezing milestones depend on the epochs); start a new run instead"
            )
        config["epochs"] = epochs
        return config

    def state(self) -> ResumeState:
        seconds = sum(float(r.get("seconds", 0.0)) for r in self.meta.history)
        return ResumeState(
            self.meta.epoch,
            read_optimizer_state(self.last),
            self.meta.history,
            self.meta.best,
            seconds,
        )
