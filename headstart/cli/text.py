"""``headstart text train | compare | predict | export``: text classification with a pretrained encoder."""

from __future__ import annotations

import argparse

from headstart.cli.common import add_command, build_config, print_json, resume_options
from headstart.cli.export import add_export_options, run_export
from headstart.cli.options import (
    RUN_HELP,
    add_checked,
    add_checkpoint_options,
    add_dataclass_options,
    add_shared,
)
from headstart.errors import HeadstartError
from headstart.io import check_writable
from headstart.options import POSITIVE_INT, Choice, ListOf
from headstart.text.config import STRATEGIES, TEXT_RULES, TextConfig

TEXT_HELP = {
    **RUN_HELP,
    "val": "a separate validation file (else DATA's split column, else --val-fraction)",
    "text_col": "column (CSV/TSV) or key (JSONL) holding the text",
    "label_col": "column or key holding the label",
    "split_col": "column with train / val values, used when present",
    "model": "minilm (packaged all-MiniLM-L6-v2, offline), a Hugging Face encoder name, "
    "or a local model folder",
    "strategy": " | ".join(STRATEGIES) + " | partial[:N] | progressive | auto (frozen: the old "
    "name of feature-extraction; auto: what `headstart text recommend` advises)",
    "batch_size": "texts per batch",
    "max_length": "tokens per text; longer texts are truncated (with a warning that counts them)",
    "group_by_length": "batch texts of similar length together (less padding, faster); "
    "batches still come in random order",
    "lr": "LR of the encoder's top layer (full, partial, progressive) or the adapter; default "
    "per strategy: full 5e-5, lora 2e-3, ia3 1e-2, prompt 3e-2, prefix 1e-2",
    "head_lr": "LR of the new head; default 3e-3 for feature-extraction, 2e-3 for adapters, "
    "1e-3 for full",
    "lr_decay": "layer-wise LR decay: each encoder layer below the top gets lr x this",
    "partial_groups": "partial: how many top transformer layers train",
    "head_epochs": "progressive: head-only epochs before the first unfreeze",
    "weight_decay": "AdamW weight decay (never on biases, norms and other vectors)",
    "warmup_epochs": "linear LR warmup, in epochs (fractions allowed)",
    "schedule": "linear | cosine | constant decay after warmup",
    "class_weights": "weight the loss by inverse class frequency",
    "dropout": "dropout before the head",
    "lora_r": "LoRA rank",
    "lora_alpha": "LoRA scaling alpha",
    "virtual_tokens": "prompt/prefix tuning: number of virtual tokens",
    "target_modules": "adapter target modules (default: PEFT's choice for the model type)",
    "val_fraction": "val share when there is no split column and no --val",
    "precision": "auto | bf16 | fp16 | fp32 (fp32 is the reference)",
    "cache_dir": "where frozen-encoder embeddings are cached (default ~/.cache/headstart)",
}
COMPARE_SKIP = ("strategy", "lr", "head_lr")
RECOMMEND_SKIP = ("strategy", "lr", "head_lr", "epochs", "out", "name", "lr_decay", "clip_grad")


DATA_HELP = "labelled texts: .csv, .tsv or .jsonl, or hf:NAME_OR_DIR (a Hugging Face data set)"


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "text", help="text classification: feature extraction, full, LoRA, IA3, prompt, prefix"
    )
    tsub = t.add_subparsers(dest="action", required=True, metavar="ACTION")
    _register_train(tsub)
    _register_compare(tsub)
    _register_recommend(tsub)
    _register_predict(tsub)
    _register_export(tsub)


def _register_train(tsub: argparse._SubParsersAction) -> None:
    tr = add_command(tsub, "train", run_train)
    tr.add_argument("data", nargs="?", help=DATA_HELP)
    add_shared(tr, "config", "resume")
    add_dataclass_options(tr, TextConfig, TEXT_HELP, rules=TEXT_RULES)


def _register_compare(tsub: argparse._SubParsersAction) -> None:
    c = add_command(tsub, "compare", run_compare)
    c.add_argument("data", nargs="?", help=DATA_HELP)
    add_shared(c, "config")
    add_checked(
        c,
        "--strategies",
        ListOf(Choice((*STRATEGIES, "auto", "frozen"))),
        default=list(STRATEGIES),
        help="comma-separated subset, auto included (default: all six)",
    )
    c.add_argument(
        "--resume",
        metavar="COMPARE_DIR",
        help="continue an interrupted comparison: strategies that finished there with the "
        "same settings are reused, the others run",
    )
    c.add_argument(
        "--in-process",
        action="store_true",
        help="run the strategies in this process (faster start; memory figures can "
        "read lower than in a fresh process)",
    )
    add_dataclass_options(c, TextConfig, TEXT_HELP, skip=COMPARE_SKIP, rules=TEXT_RULES)


def _register_recommend(tsub: argparse._SubParsersAction) -> None:
    r = add_command(tsub, "recommend", run_recommend)
    r.add_argument("data", nargs="?", help="labelled texts: .csv, .tsv or .jsonl")
    add_shared(r, "config", "json")
    add_dataclass_options(r, TextConfig, TEXT_HELP, skip=RECOMMEND_SKIP, rules=TEXT_RULES)


def _register_predict(tsub: argparse._SubParsersAction) -> None:
    p = add_command(tsub, "predict", run_predict)
    p.add_argument("checkpoint", help="text run directory or its .safetensors checkpoint")
    p.add_argument("texts", nargs="*", help="texts to classify (quote each one)")
    p.add_argument(
        "--file", action="append", default=[], help="UTF-8 file with one text per line (repeatable)"
    )
    add_checked(p, "--top-k", POSITIVE_INT, default=2, help="classes per text")
    add_checkpoint_options(p)


def _register_export(tsub: argparse._SubParsersAction) -> None:
    e = add_command(
        tsub,
        "export",
        run_export,  # headstart export's, which tells image and text runs apart
        help="export a text run to ONNX (optionally int8), checked, with its tokenizer",
        description="Export a frozen, full, LoRA or IA3 text run: encoder (adapter merged), "
        "mean pooling and head as one graph taking input_ids and attention_mask, the "
        "tokenizer files and headstart-export.json. Checked against PyTorch on the run's "
        "validation texts; nothing is written when the check fails.",
    )
    add_export_options(e, "texts")


def _config(args: argparse.Namespace) -> TextConfig:
    if not args.data and not args.config:
        raise HeadstartError("give a DATA file (or --config with data:)")
    return build_config(TextConfig, args, **({"data": args.data} if args.data else {}))


def run_train(args: argparse.Namespace) -> int:
    """fine-tune a pretrained encoder on labelled texts

    Train a text classifier from a CSV, TSV or JSONL file."""
    from headstart.text.fit import fit_text

    if args.resume:
        fit_text(resume=check_writable(args.resume, "--resume"), **resume_options(args))
        return 0
    cfg = _config(args)
    check_writable(cfg.out, "--out")
    fit_text(config=cfg)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """all strategies with matched budgets, one table

    Train every strategy on the same data with the same epochs, batch size, max length and seed
    (each at its own default LRs); print and write the table and the report."""
    from headstart.text.compare import compare_text

    cfg = _config(args)
    check_writable(args.resume or cfg.out, "--resume" if args.resume else "--out")
    compare_text(
        config=cfg,
        strategies=args.strategies,
        isolate=not args.in_process,
        resume=args.resume,
    )
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    """measure the texts and propose a strategy, with the reasons

    Profile the texts (counts, lengths in tokens, the encoder's vocabulary coverage), run a
    linear probe on frozen embeddings with 25/50/100% of the training texts, and propose
    feature-extraction, lora or full, with the reasons."""
    from headstart.text.recommend import recommend_text

    rec = recommend_text(config=_config(args))
    if args.json:
        print_json(rec.to_dict())
        return 0
    print(f"recommended: {rec.strategy}, {rec.epochs} epochs")
    for reason in rec.reasons:
        print(f"  - {reason}")
    print("measured: " + ", ".join(f"{k} {v}" for k, v in rec.measurements.items()))
    print(f"run it:  {rec.command(args.data or '<data>')}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """classify texts with a trained text run"""
    from headstart.errors import DataError
    from headstart.text.checkpoint import TextCheckpoint, read_lines

    texts = list(args.texts)
    for f in args.file:
        texts.extend(read_lines(f))
    if not texts:
        raise DataError("no texts given: pass texts as arguments or --file FILE")
    ckpt = TextCheckpoint.load(args.checkpoint, args.which, args.device, args.precision)
    preds = ckpt.predict(texts, args.top_k)
    if args.json:
        print_json([p.to_dict() for p in preds])
        return 0
    for p in preds:
        short = p.text if len(p.text) <= 70 else p.text[:67] + "..."
        print(f"{short}: " + ", ".join(f"{c} {prob:.3f}" for c, prob in p.top))
    return 0
