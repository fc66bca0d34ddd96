"""``headstart serve RUN_OR_EXPORT``: an HTTP prediction API and a web page (FastAPI)."""

from __future__ import annotations

import argparse

from headstart.cli.common import add_command
from headstart.cli.options import add_checked
from headstart.options import DEVICE, PRECISION, Number, option_type
from headstart.serve.limits import LIMIT_RULES, MB, POSITIVE, Limits

LIMIT_HELP = {
    "max_files": "images per request",
    "max_pixels": "pixels per image, checked from its header before decoding",
    "max_texts": "texts per request",
    "max_text_chars": "characters per text",
    "timeout_s": "seconds a request may take, upload included",
    "top_k": "classes per answer (a request may ask ?top_k=N)",
    "max_batch": "inputs per model run, across concurrent requests",
    "batch_wait_ms": "milliseconds a model run waits for more requests to join",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "serve", run_serve)
    p.add_argument("model", help="export folder (headstart export) or run directory")
    p.add_argument("--host", default="127.0.0.1", help="default: %(default)s (this machine only)")
    add_checked(p, "--port", Number(low=1, high=65535, integer=True), default=8000)
    p.add_argument("--variant", choices=("fp32", "int8"), default="fp32", help="export model")
    p.add_argument("--which", choices=("best", "last"), default="best", help="run checkpoint")
    add_checked(p, "--device", DEVICE, default="auto", help="runs only: auto | cpu | cuda | cuda:N")
    add_checked(
        p, "--precision", PRECISION, default="auto", help="runs only: auto | bf16 | fp16 | fp32"
    )
    add_checked(
        p,
        "--threads",
        Number(low=1, integer=True, optional=True),
        help="model threads (default: the cores available)",
    )
    d = Limits()
    add_checked(
        p,
        "--max-request-mb",
        POSITIVE,
        default=d.max_request_bytes / MB,
        help="request body size in MB (default: %(default)s)",
    )
    for name, text in LIMIT_HELP.items():
        default = getattr(d, name)
        flag = "--timeout" if name == "timeout_s" else "--" + name.replace("_", "-")
        p.add_argument(
            flag,
            dest=name,
            type=option_type(name, LIMIT_RULES[name], flag),
            default=default,
            help=f"{text} (default: %(default)s)",
        )


def run_serve(args: argparse.Namespace) -> int:
    """serve a run or an export over HTTP: JSON API and a web page

    POST /predict (images as multipart field 'file', or JSON {"texts": [...]}), GET / (a page to
    drop an image on), GET /health, GET /info. An export folder runs on ONNX Runtime, a run
    directory on PyTorch. Requests over a limit get a 4xx JSON error."""
    import uvicorn

    from headstart.serve.app import create_app
    from headstart.serve.backends import load_backend

    limits = Limits(
        max_request_bytes=int(args.max_request_mb * MB),
        **{name: getattr(args, name) for name in LIMIT_HELP},
    )
    backend = load_backend(
        args.model, args.variant, args.which, args.device, args.precision, args.threads
    )
    print(
        f"serving {args.model} ({backend.task}, {len(backend.classes)} classes) on "
        f"http://{args.host}:{args.port}/ - Ctrl+C stops",
        flush=True,
    )
    uvicorn.run(create_app(backend, limits), host=args.host, port=args.port, log_level="warning")
    return 0
