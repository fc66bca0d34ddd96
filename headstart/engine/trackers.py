"""The trackers a run's config asks for, called as one (``engine/tracking.py`` says what each
logs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from headstart.engine.loop import EpochResult
from headstart.engine.mlflow_tracker import MLflowTracker
from headstart.engine.tensorboard import TensorBoardTracker
from headstart.engine.tracking import TRACKERS, RunInfo, Tracker
from headstart.errors import HeadstartError


def check_track(track: str | Sequence[str] | None) -> list[str]:
    """The tracker names of ``--track`` (comma-separated; ``none`` or empty: none)."""
    names = [track] if isinstance(track, str) else list(track or [])
    names = [n.strip() for name in names for n in name.split(",") if n.strip() not in ("", "none")]
    unknown = sorted(set(names) - set(TRACKERS))
    if unknown:
        raise HeadstartError(
            f"--track {','.join(unknown)}: choose {' or '.join(TRACKERS)} (TensorBoard is on by "
            "default; --no-tensorboard turns it off)"
        )
    return names


def make_trackers(tensorboard: bool, track: str | Sequence[str] | None) -> list[Tracker]:
    """The trackers a run's config asks for (``tensorboard``, ``track``)."""
    names = check_track(track)
    trackers: list[Tracker] = []
    if tensorboard:
        trackers.append(TensorBoardTracker())
    if "mlflow" in names:
        trackers.append(MLflowTracker())
    return trackers


class Trackers:
    """Several trackers called as one; a tracker that fails is reported once and dropped, so a
    broken tracking store never costs a training run."""

    def __init__(self, trackers: Sequence[Tracker]):
        self.trackers = list(trackers)

    def _each(self, method: str, *args: Any) -> None:
        for t in list(self.trackers):
            try:
                getattr(t, method)(*args)
            except HeadstartError:
                raise
            except Exception as err:  # noqa: BLE001 - the run goes on without this tracker
                print(
                    f"headstart: warning: {type(t).__name__} stopped logging "
                    f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
                )
                self.trackers.remove(t)

    def start(self, run: RunInfo) -> None:
        self._each("start", run)

    def epoch(self, result: EpochResult) -> None:
        self._each("epoch", result)

    def finish(self, summary: Mapping[str, Any], files: Sequence[Path]) -> None:
        self._each("finish", summary, files)

    def close(self, failed: bool = False) -> None:
        self._each("close", failed)
