"""``headstart embed``, ``map``, ``index``, ``search`` and ``probe``."""

from __future__ import annotations

import argparse
from pathlib import Path

from headstart.cli.common import add_command, print_json
from headstart.cli.options import add_checked, add_shared
from headstart.io import check_writable, remove_empty_dirs
from headstart.options import DEVICE, FRACTION, POSITIVE_INT, PRECISION, SEED, Number

MODEL_HELP = (
    "timm name or torchvision:NAME (default tf_efficientnet_lite0), a headstart run "
    "directory or .safetensors checkpoint (fine-tuned classifier or few-shot model), "
    "pixels[:SIZE] (raw-pixel baseline), conse[:BACKBONE[+BACKBONE...]] or clip:NAME_OR_DIR "
    "(text-aligned, for --text search)"
)


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backbone",
        "--model",
        dest="model",
        default="tf_efficientnet_lite0",
        metavar="SPEC",
        help=MODEL_HELP,
    )
    p.add_argument(
        "--weights",
        default="pretrained",
        help="pretrained, random, or a local .safetensors/.pth file (for a timm name)",
    )
    add_checked(p, "--device", DEVICE, default="auto", help="auto | cpu | cuda | cuda:N")
    add_checked(
        p,
        "--precision",
        PRECISION,
        default="auto",
        help="auto | bf16 | fp32 (fp32 is the reference)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    e = add_command(sub, "embed", run_embed)
    e.add_argument(
        "data",
        nargs="+",
        help="ImageFolder root, folder of class folders, folder of images, or image files",
    )
    e.add_argument("--out", help="output folder (default runs/embed/NAME)")
    e.add_argument("--split", choices=("train", "val", "test"), help="only this split of DATA")
    e.add_argument("--skip-bad", action="store_true", help="skip undecodable images")
    e.add_argument("--no-progress", dest="progress", action="store_false")
    add_model_options(e)

    m = add_command(sub, "map", run_map)
    m.add_argument("embeddings", help="folder written by `headstart embed`")
    m.add_argument("--method", default="tsne", choices=("tsne", "umap", "pca"))
    m.add_argument("--out", help="PNG path (default EMBEDDINGS/map-METHOD.png)")
    add_checked(
        m,
        "--max-points",
        Number(low=2, integer=True),
        default=5000,
        help="seeded sample above this size",
    )
    add_checked(m, "--seed", SEED, default=0)

    i = add_command(sub, "index", run_index)
    i.add_argument("folder", help="embeddings folder (to build) or index folder (to update)")
    i.add_argument("--out", help="index folder (default EMBEDDINGS/index)")
    i.add_argument("--kind", default="auto", choices=("auto", "flat", "hnsw"))
    add_checked(i, "--threshold", POSITIVE_INT, default=20_000, help="auto: HNSW from N vectors on")
    add_checked(i, "--m", Number(low=2, integer=True), default=32, help="HNSW graph degree")
    add_checked(i, "--ef-construction", POSITIVE_INT, default=200)
    add_checked(i, "--ef-search", POSITIVE_INT, default=128)
    i.add_argument("--add", nargs="+", metavar="IMAGES", help="embed and add these images")
    i.add_argument("--rebuild", action="store_true", help="rebuild from the kept raw vectors")
    i.add_argument("--check", action="store_true", help="recall@k against exact search, latency")
    add_checked(i, "--k", POSITIVE_INT, default=10, help="k of --check")

    s = add_command(sub, "search", run_search)
    s.add_argument("index", help="index folder (from `headstart index`)")
    s.add_argument("images", nargs="*", help="query image files or folders")
    s.add_argument(
        "--text",
        action="append",
        default=[],
        help="text query (indexes built with conse or clip:NAME); repeatable",
    )
    add_checked(s, "--k", POSITIVE_INT, default=5, help="results per query")
    s.add_argument("--sheet", metavar="PNG", help="write a contact sheet of the results")
    add_shared(s, "json")

    p = add_command(sub, "probe", run_probe)
    p.add_argument("embeddings", help="folder written by `headstart embed`")
    p.add_argument(
        "--holdout",
        default="auto",
        choices=("auto", "split", "random"),
        help="auto: the data's val split when train and val were embedded, else random",
    )
    add_checked(p, "--test-size", FRACTION, default=0.25, help="random held-out fraction")
    add_checked(p, "--k", POSITIVE_INT, default=5, help="neighbours of the kNN classifier")
    add_checked(p, "--seed", SEED, default=0)
    add_shared(p, "json")


def run_embed(args: argparse.Namespace) -> int:
    """embed every image of a folder (vectors + ids + labels)

    Penultimate-layer embeddings of images, streamed to disk as vectors.npy + items.csv +
    meta.json."""
    from headstart.embeddings import embed
    from headstart.encoders import load_encoder
    from headstart.engine.rundir import new_run_dir

    check_writable(args.out or "runs", "--out")
    encoder = load_encoder(args.model, args.weights, args.device, args.precision)
    made = [p for p in (Path("runs"), Path("runs", "embed")) if not p.exists()]
    out = Path(args.out) if args.out else new_run_dir("runs", "embed", Path(args.data[0]).name)
    try:
        emb = embed(args.data, out, encoder, args.split, args.skip_bad, args.progress)
    except BaseException:
        if not args.out:  # the run folder made above (and its parents), while still empty
            remove_empty_dirs([out, *reversed(made)])
        raise
    print(
        f"{emb.meta['n']} embeddings of dimension {emb.meta['dim']} "
        f"({emb.meta['encoder']['description']}; {len(emb.classes)} classes) -> {out}"
    )
    if emb.meta["skipped"]:
        print(f"skipped {len(emb.meta['skipped'])} undecodable image(s), listed in meta.json")
    return 0


def run_map(args: argparse.Namespace) -> int:
    """2-D map (t-SNE, UMAP, PCA) of embeddings as a PNG"""
    from headstart.embeddings import make_map
    from headstart.embeddings.report import write_report

    check_writable(args.out or args.embeddings, "--out")
    png = make_map(args.embeddings, args.method, args.out, args.max_points, args.seed)
    report = write_report(args.embeddings)
    print(f"map -> {png}\nreport -> {report}")
    return 0


def run_index(args: argparse.Namespace) -> int:
    """build, update, rebuild or check a FAISS cosine index

    Build an index from an embeddings folder (exact below --threshold vectors, HNSW above), or,
    given an index folder: --add images, --rebuild, --check recall."""
    from headstart.embeddings import IndexParams, VectorIndex
    from headstart.embeddings.embed import check_items
    from headstart.embeddings.store import collect_items
    from headstart.encoders import encoder_from_meta
    from headstart.errors import HeadstartError

    params = IndexParams(args.kind, args.threshold, args.m, args.ef_construction, args.ef_search)
    folder = Path(args.folder)
    updating = (folder / "index.json").is_file()
    if not updating or args.add or args.rebuild:  # a check alone writes nothing
        check_writable(folder if updating else args.out or folder / "index", "--out")
    if (folder / "index.json").is_file():
        idx = VectorIndex.load(folder)
        if args.rebuild:
            idx = idx.rebuild(params)
        if args.add:
            items, _ = check_items(collect_items(args.add), skip_bad=False)
            enc = encoder_from_meta(idx.meta["embeddings"]["encoder"])
            before = len(idx)
            idx = idx.add(enc.encode([it.path for it in items]), items)
            print(f"added {len(idx) - before} of {len(items)} image(s) (the others were indexed)")
    else:
        if args.add or args.rebuild:
            raise HeadstartError(
                f"--add/--rebuild: {folder} is not an index folder (no index.json)"
            )
        idx = VectorIndex.build(folder, args.out or folder / "index", params)
    print(
        f"{idx.kind} index of {len(idx)} vectors (dim {idx.meta['dim']}, cosine), built in "
        f"{idx.meta['build_seconds']:.1f}s -> {idx.root}"
    )
    if args.check:
        res = idx.check(k=args.k)
        print(
            f"recall@{args.k} vs exact {res['recall_at_k']:.4f} over {int(res['queries'])} "
            f"queries; latency p50 {res['latency_ms_p50']:.2f} ms, "
            f"p95 {res['latency_ms_p95']:.2f} ms"
        )
    return 0


def run_search(args: argparse.Namespace) -> int:
    """nearest images of query images or a text"""
    from headstart.embeddings import VectorIndex, contact_sheet, search
    from headstart.encoders import index_encoder

    if args.sheet:
        check_writable(args.sheet, "--sheet")
    index = VectorIndex.load(args.index)
    results = search(index, index_encoder(index), args.images, args.text, args.k)
    if args.sheet:
        contact_sheet(args.sheet, results)
    if args.json:
        print_json([r.to_dict() for r in results])
        return 0
    for r in results:
        print(f"{r.kind} query: {r.query}")
        for h in r.hits:
            label = f"  [{h.label}]" if h.label else ""
            print(f"  {h.rank:>2}. {h.score:.4f}  {h.path}{label}")
    if args.sheet:
        print(f"contact sheet -> {args.sheet}")
    return 0


def run_probe(args: argparse.Namespace) -> int:
    """linear probe, kNN and k-means on labelled embeddings"""
    from headstart.embeddings import probe
    from headstart.embeddings.report import write_report
    from headstart.io import write_json_atomic

    check_writable(args.embeddings, "EMBEDDINGS")
    res = probe(args.embeddings, args.test_size, args.k, args.seed, args.holdout)
    write_json_atomic(Path(args.embeddings) / "probe.json", res.to_dict())
    write_report(args.embeddings)
    if args.json:
        print_json(res.to_dict())
    else:
        print(res.table())
    return 0
