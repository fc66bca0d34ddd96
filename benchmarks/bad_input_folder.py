"""The user folder the bad-input sweep works on (see ``bad_inputs.py``; cases in
``bad_input_cases.py``).

``make_user_folder`` writes what a careless or hostile user has: small image folders (some
damaged, oddly laid out or named like HTML), CSV/JSONL/TSV files (some malformed), YAML
configs, a pickled weights file, and the outputs of a few ordinary runs (a trained image
run, a text run, embeddings and an index) that the cases read.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

HTML = "<img src=x onerror=alert(1)>"
TINY = ["--backbone", "test_efficientnet", "--weights", "random"]
QUICK = [*TINY, "--epochs", "1", "--batch-size", "4", "--precision", "fp32", "--no-progress"]


def _image(path: Path, colour: tuple[int, int, int], seed: int, mode: str = "RGB") -> None:
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour) + rng.normal(0, 25, (20, 20, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).convert(mode).save(path)


def image_folder(root: Path, classes: dict[str, tuple[int, int, int]], n: int = 8) -> Path:
    """``root/train/<class>/*.png`` (``n`` each) and ``root/val/<class>/*.png`` (``n // 2``)."""
    seed = 0
    for split, count in (("train", n), ("val", n // 2)):
        for name, colour in classes.items():
            for i in range(count):
                _image(root / split / name / f"{i}.png", colour, seed)
                seed += 1
    return root


COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (40, 50, 210)}


def _bomb() -> bytes:
    """A PNG header claiming 100,000 x 100,000 pixels (10 gigapixels) in a few bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = (100_000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _damaged_folders(u: Path) -> None:
    image_folder(u / "corrupt", COLOURS)
    good = (u / "corrupt" / "train" / "red" / "0.png").read_bytes()
    (u / "corrupt" / "train" / "red" / "truncated.png").write_bytes(good[: len(good) // 2])
    (u / "corrupt" / "train" / "green" / "empty.jpg").write_bytes(b"")
    (u / "corrupt" / "val" / "blue" / "text.png").write_text("not an image")
    image_folder(u / "bomb", COLOURS)
    (u / "bomb" / "train" / "red" / "bomb.png").write_bytes(_bomb())
    image_folder(u / "modes", COLOURS)
    arr16 = (np.arange(400, dtype=np.uint16).reshape(20, 20) * 160).astype(np.uint16)
    Image.fromarray(arr16).save(u / "modes" / "train" / "red" / "gray16.png")
    for i, mode in enumerate(("CMYK", "P", "RGBA", "L", "1")):
        fmt = ".jpg" if mode == "CMYK" else ".png"
        _image(u / "modes" / "train" / "green" / f"mode{i}{fmt}", (30, 180, 40), 99 + i, mode)


def _layouts(u: Path) -> None:
    (u / "empty").mkdir()
    image_folder(u / "oneclass", {"only": (10, 10, 10)})
    image_folder(u / "mismatch", COLOURS)
    shutil.move(u / "mismatch" / "val" / "blue", u / "mismatch" / "val" / "purple")
    _image(u / "noclass" / "a.png", (1, 2, 3), 0)
    (u / "noclass" / "b.png").write_bytes((u / "noclass" / "a.png").read_bytes())
    image_folder(u / "nonimage", COLOURS)
    (u / "nonimage" / "train" / "yellow").mkdir()
    (u / "nonimage" / "train" / "yellow" / "readme.txt").write_text("no images here")
    image_folder(u / "valonly", COLOURS)
    shutil.rmtree(u / "valonly" / "train")
    image_folder(u / HTML.replace("/", "_"), {HTML: (200, 30, 30), "a$\\frac$": (30, 40, 200)})
    (u / "afile.png").write_bytes((u / "noclass" / "a.png").read_bytes())


def _texts(u: Path) -> None:
    rows = "".join(
        f"{'great fun' if i % 2 else 'dull and slow'} {i},{'pos' if i % 2 else 'neg'}\n"
        for i in range(24)
    )
    (u / "t.csv").write_text("text,label\n" + rows)
    (u / "t_nolabel.csv").write_text("text,stars\n" + rows)
    (u / "t_empty.csv").write_text("")
    (u / "t_header.csv").write_text("text,label\n")
    (u / "t_one.csv").write_text("text,label\n" + "".join(f"x {i},pos\n" for i in range(10)))
    (u / "t_latin1.csv").write_bytes(
        "text,label\ncaf\xe9 cr\xe8me,pos\nbad,neg\n".encode("latin-1")
    )
    (u / "t.jsonl").write_text('{"text": "good", "label": "pos"}\n{"text": broken\n')
    (u / "t_ragged.csv").write_text('text,label\n"unclosed quote,pos\nok,neg\n')
    (u / "t.txt").write_text("good\nbad\n")
    (u / "t_html.csv").write_text(
        "text,label\n" + "".join(f"{HTML} {i},{HTML if i % 2 else 'b'}\n" for i in range(20))
    )


def _configs(u: Path) -> None:
    configs = {
        "c_invalid.yaml": "epochs: [1\n",
        "c_list.yaml": "- epochs\n- 2\n",
        "c_unknown.yaml": "epochz: 2\n",
        "c_type.yaml": "epochs: many\n",
        "c_neg.yaml": "batch-size: -8\n",
        "c_nested.yaml": "lr: {value: 0.1}\n",
        "c_bool.yaml": "epochs: true\n",
        "c_null.yaml": "strategy: null\n",
    }
    for name, text in configs.items():
        (u / name).write_text(text)
    (u / "c_binary.yaml").write_bytes(b"\xff\xfe\x00garbage")


def _weights(u: Path) -> None:
    import torch

    class Payload:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, (f"touch '{u / 'PAYLOAD-RAN'}'",))

    torch.save({"w": torch.zeros(1), "x": Payload()}, u / "evil.pth")
    (u / "evil_model").mkdir()
    (u / "evil_model" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    torch.save({"w": Payload()}, u / "evil_model" / "pytorch_model.bin")
    (u / "random.safetensors").write_bytes(os.urandom(4096))
    torch.save({"only": torch.zeros(3)}, u / "wrong_shapes.pth")


def _runs(u: Path) -> None:
    """Outputs of ordinary runs that the cases read (made by headstart itself)."""
    from headstart.cli.main import main

    image_folder(u / "d", COLOURS)
    runs = u / "runs"
    assert main(["train", str(u / "d"), *QUICK, "--out", str(runs), "--name", "r"]) == 0
    assert main(["embed", str(u / "d"), *TINY, "--out", str(u / "emb"), "--no-progress"]) == 0
    assert main(["index", str(u / "emb")]) == 0
    text = ["text", "train", str(u / "t.csv"), "--strategy", "frozen", "--epochs", "1"]
    assert main([*text, "--no-progress", "--out", str(runs), "--name", "t"]) == 0
    _damaged_header(runs / "train" / "r", u / "broken_run", lambda meta: "{ not json")
    _damaged_header(
        runs / "train" / "r",
        u / "nobackbone_run",
        lambda meta: json.dumps({k: v for k, v in json.loads(meta).items() if k != "backbone"}),
    )
    truncated = u / "truncated_run"
    shutil.copytree(runs / "train" / "r", truncated)
    ckpt = truncated / "checkpoints" / "best.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])


def _damaged_header(run: Path, copy: Path, change: Callable[[str], str]) -> None:
    """A copy of ``run`` whose best checkpoint has its headstart metadata replaced."""
    shutil.copytree(run, copy)
    path = copy / "checkpoints" / "best.safetensors"
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["headstart"] = change(header["__metadata__"]["headstart"])
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n :])


def make_user_folder(u: Path) -> None:
    u.mkdir(parents=True)
    (u / "notes.txt").write_text("precious\n")
    (u / "mydata").mkdir()
    (u / "mydata" / "notes.txt").write_text("precious\n")
    _damaged_folders(u)
    _layouts(u)
    _texts(u)
    _configs(u)
    _weights(u)
    _runs(u)


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    return buf.getvalue()


if __name__ == "__main__":  # build the folder alone, to look at it
    make_user_folder(Path(sys.argv[1]))
