"""Does ``train --lr find`` pick a good learning rate? Check it against a 4-point LR grid.

    python benchmarks/lr_find_check.py                                   # feature extraction
    python benchmarks/lr_find_check.py --strategy partial --epochs 3 --sets fashion-mnist

For each data set (a seeded, stratified export, 100 train / 100 val images per class): train
the strategy at each point of the grid (the reference group's LR; every other LR of the plan
keeps its ratio to it, as ``--lr find`` does), then with ``--lr find``, same epochs and seed, and
report whether the LR found (by each rule of ``--rules``) lands within ``--tolerance`` points
of the grid's best final val accuracy. The grid is the strategy's default LR times 1/3, 1, 3
and 10. Exit status 1 on a miss. Packaged EfficientNet-Lite0; features are cached, so feature extraction is quick.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import yaml

from headstart.classify.fit import fit
from headstart.config import TrainConfig
from headstart.data.export import export_dataset

HERE = Path(__file__).resolve().parent
FACTORS = (1 / 3, 1.0, 3.0, 10.0)


def run(cfg: TrainConfig, root: Path, name: str, **lrs: object) -> dict:
    res = fit(root, dataclasses.replace(cfg, name=name, **lrs))
    used = yaml.safe_load((res.run_dir / "config.yaml").read_text())
    return {
        "lr": used["lr"],
        "head_lr": used["head_lr"],
        "final_val_acc": res.final.val_acc,
        "best_val_acc": res.best["val_acc"],
        "seconds": res.seconds,
    }


def check(
    name: str, cfg: TrainConfig, per_class: int, tolerance: float, rules: list[str]
) -> list[dict]:
    root = HERE / ".data" / f"{name}-{per_class}-{per_class}-seed{cfg.seed}"
    if not (root / "train").is_dir():
        export_dataset(name, root, per_class, per_class, seed=cfg.seed, force=True)
    lr, head_lr = cfg.resolved_lrs()
    head_only = cfg.strategy == "feature-extraction"
    grid = []
    for f in FACTORS:
        row = run(cfg, root, f"{name}-x{f:.3g}", lr=lr * f, head_lr=head_lr * f)
        row["reference_lr"] = row["head_lr"] if head_only else row["lr"]
        grid.append(row)
        print(json.dumps(row), flush=True)
    best = max(grid, key=lambda r: r["final_val_acc"])
    out = []
    for rule in rules:
        found = run(cfg, root, f"{name}-find-{rule}", lr="find", lr_rule=rule)
        found["reference_lr"] = found["head_lr"] if head_only else found["lr"]
        gap = 100 * (best["final_val_acc"] - found["final_val_acc"])
        out.append({
            "data": f"{name} {per_class}/{per_class} per class, seed {cfg.seed}",
            "strategy": cfg.strategy, "rule": rule, "epochs": cfg.epochs, "grid": grid,
            "found": found, "points_below_best": gap, "ok": gap <= tolerance,
        })  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="fashion-mnist,mnist5k")
    parser.add_argument("--strategy", default="feature-extraction")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rules", default="valley,steep", help="the suggestions --lr find tries")
    parser.add_argument("--tolerance", type=float, default=1.0, help="points below the best")
    parser.add_argument("--out", default=None, help="runs folder (default: a temporary one)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="headstart-lr-find-"))
    cfg = TrainConfig(
        strategy=args.strategy, epochs=args.epochs, seed=args.seed, out=str(out),
        progress=False, report=False, tensorboard=False,
    )  # fmt: skip
    rules = args.rules.split(",")
    results = [
        r
        for s in args.sets.split(",")
        for r in check(s, cfg, args.per_class, args.tolerance, rules)
    ]
    print(json.dumps(results, indent=2))
    for r in results:
        accs = ", ".join(f"{g['reference_lr']:.1e}: {g['final_val_acc']:.3f}" for g in r["grid"])
        print(
            f"{r['data']}, {r['strategy']}, {r['epochs']} epochs: grid {accs}; --lr find ({r['rule']}) "
            f"{r['found']['reference_lr']:.1e}: {r['found']['final_val_acc']:.3f} "
            f"({r['points_below_best']:+.1f} points below the best) -> "
            + ("OK" if r["ok"] else "MISS")
        )
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
