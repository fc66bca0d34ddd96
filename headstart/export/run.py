"""``export_run``: a trained run -> a self-describing export folder, checked before it exists.

The folder is built beside its target and moved into place only when every check passed,
so a failed export leaves nothing behind and an existing export is replaced whole (with
``force``) or not at all.

>>> result = export_run("runs/train/fmnist-full", ExportOptions(quantize="int8"))
>>> print("\\n".join(result.lines()))
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headstart.engine.checkpoint import read_meta, resolve_checkpoint
from headstart.errors import HeadstartError
from headstart.export.common import run_dir_of
from headstart.export.image import build_image_export
from headstart.export.options import ExportOptions
from headstart.export.runtime import IMAGE_TASK, META_FILE, TEXT_TASK
from headstart.export.text import build_text_export
from headstart.io import mkdtemp_like_mkdir, write_json_atomic


@dataclass
class ExportResult:
    folder: Path
    meta: dict[str, Any]

    def lines(self) -> list[str]:
        """What ``headstart export`` prints: the files and the check figures."""
        check = self.meta["check"]
        out = [f"exported {self.meta['source']['checkpoint']} -> {self.folder}"]
        for variant, file in self.meta["models"].items():
            c = check[variant]
            acc = ""
            if c.get("accuracy") is not None:
                acc = f", accuracy {c['accuracy_reference']:.4f} -> {c['accuracy']:.4f}"
                if variant == "int8":
                    acc += f" (drop {c['accuracy_drop_points']:.2f} points vs fp32)"
            out.append(
                f"  {file} ({variant}): top-1 agreement {c['agreement']:.2%} on {c['n']} "
                f"{check['inputs']}, max |logit diff| {c['max_abs_diff']:.2e}{acc}"
            )
        return out


def export_run(run: str | Path, options: ExportOptions | None = None) -> ExportResult:
    """Export the image or text run ``run``; the task is read from its checkpoint."""
    opts = options or ExportOptions()
    opts.validate()
    file = resolve_checkpoint(run, opts.which)
    task = read_meta(file).task
    builders = {IMAGE_TASK: build_image_export, TEXT_TASK: build_text_export}
    if task not in builders:
        raise HeadstartError(f"{file} is a '{task}' checkpoint: export takes image or text runs")
    out = Path(opts.out) if opts.out else run_dir_of(file) / "export"
    with staging(out, opts.force) as tmp:
        meta = builders[task](file, opts, tmp)
        write_json_atomic(tmp / META_FILE, meta)
    return ExportResult(out, meta)


@contextlib.contextmanager
def staging(out: Path, force: bool) -> Iterator[Path]:
    """A hidden folder beside ``out`` that becomes ``out`` when the block succeeds."""
    if out.exists() and not out.is_dir():
        raise HeadstartError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise HeadstartError(f"{out} exists; pass --force to replace it, or another --out")
        if not (out / META_FILE).is_file():
            raise HeadstartError(
                f"{out} is not a headstart export: it is left as it is; choose another --out"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = mkdtemp_like_mkdir(f".{out.name}.", out.parent)  # the mode mkdir gives
    try:
        yield tmp
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "export")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
