"""``headstart fewshot`` (classify, ``eval``, ``train``) and ``headstart verify``."""

from __future__ import annotations

import argparse

from headstart.cli.common import Parser, add_command, build_config, print_json, resume_options
from headstart.cli.embeddings import MODEL_HELP, add_model_options
from headstart.cli.options import RUN_HELP, add_checked, add_dataclass_options, add_shared
from headstart.fewshot.rules import EVAL_RULES, FEWSHOT_RULES, METRIC
from headstart.io import check_writable
from headstart.options import POSITIVE_INT

USAGE = """\
headstart fewshot SUPPORT_DIR QUERY... [options]   classify queries by nearest class prototype
headstart fewshot eval DATA [options]              N-way K-shot episodes, mean ± 95%% CI
headstart fewshot train DATA [options]             episodic fine-tuning or a Siamese network
(`headstart fewshot eval --help` and `headstart fewshot train --help` list their options)"""

TRAIN_HELP = {
    **RUN_HELP,
    "method": "protonet (episodic fine-tuning, prototypical loss) | siamese (contrastive loss)",
    "backbone": "timm name or torchvision:NAME",
    "train_groups": "top layer groups of the backbone that train (the rest is cached once)",
    "steps": "episodes (protonet) or pair batches (siamese) per epoch",
    "ways": "classes per training episode",
    "shots": "support images per class in a training episode",
    "queries": "query images per class in a training episode",
    "pairs": "pairs per Siamese batch (half same-class)",
    "metric": "cosine | euclidean (prototype distance)",
    "margin": "contrastive margin (embeddings are unit vectors: distances in [0, 2])",
    "embed_dim": "Siamese projection size",
    "lr": "LR of the top backbone group (lower groups get less)",
    "head_lr": "LR of the Siamese projection head",
    "weight_decay": "AdamW weight decay",
    "classes": "train on these classes only (e.g. base classes)",
    "eval_classes": "evaluate on these classes (e.g. novel classes never trained on)",
    "val_episodes": "episodes (pair batches of 64) checked on val after each epoch",
    "eval_ways": "ways of the final evaluation episodes",
    "eval_shots": "shots of the final evaluation",
    "eval_episodes": "episodes of the final evaluation",
    "eval_queries": "queries per class of the final evaluation",
    "precision": "auto | bf16 | fp32",
    "name": "run name (default DATA-METHOD)",
    "progress": "show progress",
}


def register(sub: argparse._SubParsersAction) -> None:
    f = add_command(
        sub,
        "fewshot",
        run_fewshot,
        usage=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("target", help="SUPPORT_DIR, or eval / train")
    f.add_argument("rest", nargs=argparse.REMAINDER, help="queries and options")
    f.set_defaults(parse_rest=parse_rest)

    v = add_command(sub, "verify", run_verify)
    v.add_argument("image_a")
    v.add_argument("image_b")
    v.add_argument(
        "--model",
        required=True,
        help="Siamese run directory (from `headstart fewshot train --method siamese`)",
    )
    add_shared(v, "json")


def _classify_parser() -> argparse.ArgumentParser:
    p = Parser(prog="headstart fewshot", description=_run_classify.__doc__)
    p.add_argument("support", help="folder with one sub-folder of example images per class")
    p.add_argument("queries", nargs="+", help="query image files or folders")
    add_model_options(p)
    p.add_argument("--metric", default="cosine", choices=METRIC.choices)
    add_checked(p, "--top-k", POSITIVE_INT, default=3, help="classes per query")
    add_shared(p, "json")
    return p


def _eval_parser() -> argparse.ArgumentParser:
    p = Parser(prog="headstart fewshot eval", description=_run_eval.__doc__)
    p.add_argument("data", help="labelled folder (its val/ split when it has one)")
    p.add_argument(
        "--backbone",
        "--model",
        dest="models",
        action="append",
        metavar="SPEC",
        help=MODEL_HELP + "; repeat to compare",
    )
    add_checked(p, "--ways", EVAL_RULES["ways"], default=5, help="classes per episode")
    add_checked(p, "--shots", EVAL_RULES["shots"], default=[1, 5], help="comma-separated, e.g. 1,5")
    add_checked(p, "--queries", EVAL_RULES["queries"], default=15, help="query images per class")
    add_checked(p, "--episodes", EVAL_RULES["episodes"], default=600, help="episodes")
    p.add_argument("--split", choices=("train", "val", "test"))
    p.add_argument("--classes", type=_names, help="only these classes (comma-separated)")
    p.add_argument("--metric", default="cosine", choices=METRIC.choices)
    add_checked(p, "--seed", EVAL_RULES["seed"], default=0)
    add_checked(
        p, "--precision", EVAL_RULES["precision"], default="auto", help="auto | bf16 | fp32"
    )
    add_shared(p, "json")
    return p


def _train_parser() -> argparse.ArgumentParser:
    from headstart.fewshot.train import FewShotConfig

    p = Parser(prog="headstart fewshot train", description=_run_train.__doc__)
    p.add_argument("data", nargs="?", help="folder with train/ and val/ class folders")
    add_shared(p, "config", "resume", resume="continue the run in RUN_DIR from its last checkpoint")
    add_dataclass_options(p, FewShotConfig, TRAIN_HELP, rules=FEWSHOT_RULES)
    return p


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def parse_rest(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments after ``fewshot``, parsed by the parser of what they ask for (classify,
    ``eval`` or ``train``); ``main`` calls this before it loads the engine."""
    if args.target == "eval":
        rest, run = _eval_parser().parse_args(args.rest), _run_eval
    elif args.target == "train":
        rest, run = _train_parser().parse_args(args.rest), _run_train
    else:
        rest, run = _classify_parser().parse_args([args.target, *args.rest]), _run_classify
    rest.command, rest.func = args.command, run
    if args.target in ("eval", "train"):
        rest.action = args.target  # "fewshot eval": its name in messages and overrides
    return rest


def run_fewshot(args: argparse.Namespace) -> int:
    """few-shot: classify by prototypes, evaluate episodes, fine-tune episodically or train a
    Siamese network"""
    rest = parse_rest(args)
    return int(rest.func(rest))


def _run_classify(args: argparse.Namespace) -> int:
    """Classify query images by the nearest class prototype (mean embedding) of a support
    folder."""
    from headstart.encoders import load_encoder
    from headstart.fewshot import FewShotClassifier

    encoder = load_encoder(args.model, args.weights, args.device, args.precision)
    clf = FewShotClassifier.from_support(args.support, encoder, args.metric)
    preds = clf.predict(args.queries, args.top_k)
    if args.json:
        print_json([p.to_dict() for p in preds])
        return 0
    print(f"{len(clf.classes)} classes from {len(clf.targets)} support images ({args.metric})")
    for p in preds:
        print(f"{p.path}: " + ", ".join(f"{c} {prob:.3f}" for c, prob in p.top))
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    """N-way K-shot episode accuracy (mean ± 95% CI) of one or more encoders, all on the same
    episodes."""
    from headstart.encoders import load_encoder
    from headstart.fewshot import evaluate_fewshot, score_table

    encoders = [
        load_encoder(spec, precision=args.precision)
        for spec in args.models or ["tf_efficientnet_lite0"]
    ]
    scores = evaluate_fewshot(
        args.data,
        encoders,
        args.ways,
        args.shots,
        args.queries,
        args.episodes,
        args.split,
        args.classes,
        args.metric,
        args.seed,
        progress=not args.json,
    )
    if args.json:
        print_json([s.to_dict() for s in scores])
    else:
        print(score_table(scores))
    return 0


def _run_train(args: argparse.Namespace) -> int:
    """Fine-tune the top layer groups of a backbone episodically (prototypical loss) or as a
    Siamese network (contrastive loss), then compare with frozen prototypes on the same
    episodes."""
    from headstart.fewshot import score_table, train_fewshot
    from headstart.fewshot.train import FewShotConfig

    if args.resume:
        resume = check_writable(args.resume, "--resume")
        result = train_fewshot(resume=resume, **resume_options(args))
    else:
        cfg = build_config(FewShotConfig, args, data=args.data)
        check_writable(cfg.out, "--out")
        result = train_fewshot(config=cfg)
    print(score_table(result.scores))
    if result.threshold is not None:
        print(f"verification threshold (distance): {result.threshold:.4f}")
    print(f"-> {result.run_dir}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """same class or not: a Siamese model's score for 2 images"""
    from headstart.fewshot import verify

    v = verify(args.model, args.image_a, args.image_b)
    if args.json:
        print_json(
            {
                "same": v.same,
                "distance": v.distance,
                "threshold": v.threshold,
                "similarity": v.similarity,
            }
        )
        return 0
    verdict = "same class" if v.same else "different classes"
    print(
        f"{verdict}: distance {v.distance:.4f} (threshold {v.threshold:.4f}), "
        f"similarity {v.similarity:.4f}"
    )
    return 0
