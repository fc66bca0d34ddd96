"""Is ``text recommend``'s advice right? Compare the text strategies, then check the auto row.

    python benchmarks/text_recommend_check.py     # rotten-tomatoes and debates-2016, two sizes each
    python benchmarks/text_recommend_check.py --sets debates-2016 --sizes 300 --epochs 2

For each data set and training size: export a seeded, stratified sample (``--val`` texts for
validation), run ``text compare`` with feature extraction, LoRA, full fine-tuning and ``auto``
(same epochs, max length, batch size and seed; the auto row's wall time includes the advice,
timed without importing transformers, which every trained row pays in its own process),
and report whether auto reaches within ``--tolerance`` points of the best strategy's final val
accuracy in no more wall time than that best strategy took (its training no longer, within 2%
of timing noise, and the advice at most 10% of the best's time on top). Exit status 1 on a miss.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from headstart.text.compare import compare_text
from headstart.text.config import TextConfig
from headstart.text.datasets import HEADER, export_text_dataset

HERE = Path(__file__).resolve().parent
STRATEGIES = ("feature-extraction", "lora", "full", "auto")
ADVICE_SHARE = 0.10


def check(name: str, n_train: int, args: argparse.Namespace, out: Path) -> dict:
    data = HERE / ".data" / f"{name}-{n_train}-{args.val}-seed{args.seed}.csv"
    if not data.is_file():
        export_text_dataset(name, data, n_train, args.val, seed=args.seed, force=True)
    cfg = TextConfig(
        data=str(data), text_col=HEADER.split(",")[0], epochs=args.epochs, seed=args.seed,
        out=str(out), progress=False, name=f"{name}-{n_train}",
    )  # fmt: skip
    result = compare_text(config=cfg, strategies=STRATEGIES, isolate=not args.in_process)
    rows = {r.strategy: r for r in result.rows}
    auto = rows.pop("auto")
    best = max(rows.values(), key=lambda r: r.accuracy)
    gap = 100 * (best.accuracy - auto.accuracy)
    # auto's wall time is its advice plus its training: the training may take no longer than
    # the best strategy's (2% for timing noise), the advice at most ADVICE_SHARE of that
    trained = auto.seconds - auto.advice_s
    in_time = trained <= best.seconds * 1.02 and auto.advice_s <= ADVICE_SHARE * best.seconds
    return {
        "data": f"{name}: {n_train} train / {args.val} val texts, seed {args.seed}",
        "rows": {
            s: {"val_acc": r.accuracy, "wall_s": round(r.seconds, 1)}
            for s, r in [*rows.items(), ("auto", auto)]
        },
        "best": best.strategy,
        "auto": auto.resolved,
        "advice_s": round(auto.advice_s, 1),
        "points_below_best": round(gap, 2),
        "ok": gap <= args.tolerance and in_time,
        "report": str(result.run_dir / "report.html"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="rotten-tomatoes,debates-2016")
    parser.add_argument("--sizes", default="200,600", help="training texts, comma-separated")
    parser.add_argument("--val", type=int, default=300, help="validation texts")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1.5, help="points below the best")
    parser.add_argument("--in-process", action="store_true", help="no subprocess per strategy")
    parser.add_argument("--out", default=None, help="runs folder (default: a temporary one)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="headstart-text-recommend-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    results = [check(s, n, args, out) for s in args.sets.split(",") for n in sizes]
    print(json.dumps(results, indent=2))
    print("\n| data | feature-extraction | lora | full | auto (pick) | below best | ok |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        cells = [
            f"{r['rows'][s]['val_acc']:.3f} ({r['rows'][s]['wall_s']:.0f} s)"
            for s in ("feature-extraction", "lora", "full")
        ]
        auto = r["rows"]["auto"]
        print(
            f"| {r['data']} | {' | '.join(cells)} | {auto['val_acc']:.3f} ({auto['wall_s']:.0f} s,"
            f" {r['auto']}) | {r['points_below_best']:.1f} | {'yes' if r['ok'] else 'NO'} |"
        )
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
