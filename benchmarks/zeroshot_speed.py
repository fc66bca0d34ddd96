"""``headstart zeroshot`` on 20 photos, as a user runs it: cold, warm, and warm with a label added.

    python benchmarks/run.py zeroshot

Each run is a fresh ``headstart zeroshot`` process (imports and model loading included) with
the default model (ConSE on the packaged EfficientNet-Lite0, -Lite1 and -Lite2 and
all-MiniLM-L6-v2) and 10 labels. Cold: an empty cache (``HEADSTART_CACHE`` a new folder), so
the 1,000 ImageNet class descriptions are embedded and the photos' features computed; warm:
the same command again; then with one label more (only that label is embedded). The photos:
the 15 sample photos of scikit-image and scikit-learn the tests use, and 5 of them mirrored.
Targets: cold <= 60 s, warm <= 10 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
LABELS = "cat,cup of coffee,rocket,astronaut,horse,flower,pagoda,moon,coins,camera"


def twenty_photos(folder: Path) -> list[Path]:
    sys.path.insert(0, str(HERE.parent))
    from tests.zeroshot.test_conse import write_photos

    photos = sorted(write_photos(folder))
    for p in photos[:5]:
        Image.open(p).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / f"flip-{p.name}")
    return sorted(folder.glob("*.png"))


def _timed(folder: Path, cache: Path, labels: str) -> float:
    env = {**os.environ, "HEADSTART_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env.pop("HEADSTART_PRECISION_CACHE", None)
    cmd = [sys.executable, "-m", "headstart.cli.main", "zeroshot", str(folder), "--labels", labels]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def bench_zeroshot() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        folder, cache = Path(tmp) / "photos", Path(tmp) / "cache"
        folder.mkdir()
        n = len(twenty_photos(folder))
        load = os.getloadavg()[0]
        cold = _timed(folder, cache, LABELS)
        warm = _timed(folder, cache, LABELS)
        added = _timed(folder, cache, LABELS + ",butterfly")
    row = {"naive": "-", "ratio": "-", "naive_acc": "-", "headstart_acc": "-"}
    name = f"zeroshot, {n} photos, 10 labels, 3 backbones (load average {load:.1f} before)"
    return [
        {**row, "benchmark": f"{name}: cold", "headstart": f"{cold:.1f} s", "target": "<= 60 s"},
        {**row, "benchmark": f"{name}: warm", "headstart": f"{warm:.1f} s", "target": "<= 10 s"},
        {
            **row,
            "benchmark": f"{name}: warm, one label added",
            "headstart": f"{added:.1f} s",
            "target": "-",
        },  # fmt: skip
    ]
