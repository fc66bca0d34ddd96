"""``headstart backbones`` and ``headstart datasets``."""

from __future__ import annotations

import argparse

from headstart.cli.common import add_command, print_json
from headstart.cli.options import add_checked, add_shared
from headstart.io import check_writable
from headstart.options import POSITIVE_INT, SEED


def register(sub: argparse._SubParsersAction) -> None:
    b = add_command(sub, "backbones", run_backbones)
    add_shared(b, "json")

    d = sub.add_parser("datasets", help="real data sets shipped in packages")
    dsub = d.add_subparsers(dest="action", required=True)
    ls = add_command(dsub, "list", run_list)
    add_shared(ls, "json")
    e = add_command(dsub, "export", run_export)
    e.add_argument("name", help="a data set that `headstart datasets list` shows")
    e.add_argument("out", help="output folder (gets train/ and val/); for a text set a .csv file")
    add_checked(e, "--train-per-class", POSITIVE_INT, default=100, help="image sets")
    add_checked(e, "--val-per-class", POSITIVE_INT, default=100, help="image sets")
    add_checked(e, "--train", POSITIVE_INT, default=2000, help="text sets: train texts in all")
    add_checked(e, "--val", POSITIVE_INT, default=1000, help="text sets: val texts in all")
    add_checked(e, "--seed", SEED, default=0)
    e.add_argument(
        "--force",
        action="store_true",
        help="replace an earlier export in OUT (never anything else)",
    )


def run_backbones(args: argparse.Namespace) -> int:
    """list backbones and whether they work offline"""
    import dataclasses

    import timm

    from headstart.backbones import list_backbones

    if args.json:
        print_json([dataclasses.asdict(row) for row in list_backbones()])
        return 0
    print(f"{'backbone':<28} {'offline':<8} {'weights':<44} note")
    for row in list_backbones():
        print(f"{row.name:<28} {'yes' if row.offline else 'no':<8} {row.weights:<44} {row.note}")
    print(
        f"\nAny of timm's {len(timm.list_models(pretrained=True))} pretrained names "
        "(e.g. resnet50, convnext_tiny, vit_small_patch16_224) and torchvision:NAME work when "
        "their weights are cached or downloadable; --weights FILE loads local weights "
        "for any architecture."
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """list the data sets"""
    from headstart.data.export import DATASETS
    from headstart.text.datasets import TEXT_DATASETS

    rows = [
        {"name": name, "kind": "image", "classes": len(s.classes), "about": s.about}
        | {"licence": s.licence}
        for name, s in DATASETS.items()
    ] + [
        {"name": name, "kind": "text", "classes": t.n_classes, "about": t.about}
        for name, t in TEXT_DATASETS.items()
    ]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        licence = f"  [{r['licence']}]" if "licence" in r else ""
        print(f"{r['name']:<15} {r['classes']:>2} classes  {r['about']}{licence}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """export a seeded, stratified subset as an ImageFolder (image sets) or one CSV (text sets)"""
    from headstart.data.export import export_dataset
    from headstart.text.datasets import TEXT_DATASETS, export_text_dataset

    check_writable(args.out, "OUT")
    if args.name in TEXT_DATASETS:
        csv = export_text_dataset(args.name, args.out, args.train, args.val, args.seed, args.force)
        print(f"wrote {csv} ({args.train} train + {args.val} val rows; columns review,label,split)")
        return 0
    out = export_dataset(
        args.name, args.out, args.train_per_class, args.val_per_class, args.seed, args.force
    )
    print(f"wrote {out}/train and {out}/val")
    return 0
