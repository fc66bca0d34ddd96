"""Every report shows hostile strings as text: nothing a user's data holds runs in the browser.

Each report is rendered with a script payload in every field it shows (data paths, class
names, labels, texts, backbone names, config values, error messages) and opened in headless
Chromium; a payload that ran would set ``data-pwned`` on the page's body. The Markdown
reports are rendered to HTML by a CommonMark renderer and opened the same way.
Plumbing with made-up figures and a tiny random model: no accuracy is claimed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from markdown_it import MarkdownIt

from headstart.cli.main import main
from headstart.report.plots import plot_lines
from tests.conftest import make_folder
from tests.report.browser import dom

SET = "document.body.setAttribute('data-pwned','{}')"
# File names cannot hold "/", so the folder payload is an image with an onerror handler.
FOLDER = f"<img src=x onerror={SET.format('folder')}>"
HOSTILE = (
    f'"\'><img src=x onerror="{SET.format("img")}">'
    f'<script>{SET.format("script")}</script><svg onload="{SET.format("svg")}"></svg>'
    f'</textarea></title><iframe srcdoc="<script>parent.{SET.format("iframe")}</script>">'
    "[link](javascript:alert(1)) `code` $\\frac$"
)


def assert_inert(page: Path, shown: str = "onerror=") -> None:
    """Opened in Chromium, ``page`` runs no payload and shows them as text."""
    html = dom(page)
    body = re.search(r"<body[^>]*>", html)
    assert body is not None, f"Chromium rendered nothing for {page}"
    assert "data-pwned" not in body.group(0), f"a script ran in {page}: {body.group(0)}"
    assert shown.replace("<", "&lt;") in html, f"the hostile text is not shown in {page}"


def assert_markdown_inert(md: Path, tmp: Path) -> None:
    """The Markdown report, rendered as GitHub or an editor would, holds no live HTML."""
    rendered = MarkdownIt("commonmark").render(md.read_text(encoding="utf-8"))
    live = re.search(r"<[^>]*\son\w+=|<(script|svg|iframe)\b|href=\"javascript:", rendered)
    assert live is None, rendered[max(0, live.start() - 200) : live.end() + 200]
    page = tmp / f"{md.parent.name}-md.html"
    page.write_text(f"<!doctype html><html><body>{rendered}</body></html>", encoding="utf-8")
    assert_inert(page)


@pytest.mark.xdist_group("browser")
def test_train_report_of_hostile_folder_and_class_names_runs_no_script(tmp_path, monkeypatch):
    """The reproduction of the report injection: a data folder and class folders named like
    HTML. The run goes through the CLI, as a user runs it."""
    data = make_folder(tmp_path / "d", classes={FOLDER: (200, 30, 30), "b": (30, 40, 200)})
    hostile_root = tmp_path / FOLDER
    shutil.move(data, hostile_root)
    monkeypatch.chdir(tmp_path)
    args = ["train", str(hostile_root), "--backbone", "test_efficientnet", "--weights"]
    args += ["random", "--strategy", "feature-extraction", "--epochs", "1", "--precision"]
    args += ["fp32", "--no-progress", "--num-workers", "0", "--out", "runs", "--name", "xss"]
    assert main(args) == 0
    run = tmp_path / "runs" / "train" / "xss"
    assert_inert(run / "report.html")
    assert_markdown_inert(run / "report.md", tmp_path)


def _png(tmp: Path) -> Path:
    return plot_lines(tmp / "p.png", {HOSTILE: ([1, 2], [0.5, 0.6])}, HOSTILE, HOSTILE, HOSTILE)


@pytest.mark.xdist_group("browser")
def test_train_report_fields_are_escaped(tmp_path):
    from headstart.report.train_report import write_train_report

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(_png(tmp_path), run / "curves.png")
    shutil.copy(run / "curves.png", run / "confusion_matrix.png")
    img = make_folder(tmp_path / "imgs", 1, 1) / "val" / "red" / "0.png"
    classes = [HOSTILE, FOLDER]
    write_train_report(
        run,
        title=HOSTILE,
        lead=HOSTILE,
        plan_table=HOSTILE,
        data_profile={"train_counts": {HOSTILE: 3}, "val_counts": {HOSTILE: 1}, HOSTILE: HOSTILE},
        rows=[{"epoch": 1, "train_loss": 0.5, "val_acc": 0.5, f"lr/{HOSTILE}": 0.1}],
        per_class=[{"class": HOSTILE, "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 1}],
        cm=np.array([[1, 0], [1, 0]]),
        classes=classes,
        val_paths=[str(img), str(img)],
        val_true=np.array([1, 1]),
        val_prob=np.array([[0.9, 0.1], [0.8, 0.2]]),
        environment={HOSTILE: HOSTILE, "error": f"OSError: {HOSTILE}"},
    )
    assert_inert(run / "report.html")
    assert_markdown_inert(run / "report.md", tmp_path)


def _compare_row(strategy: str, run: str) -> dict:
    return {
        "strategy": strategy,
        "resolved": strategy,
        "settings": {HOSTILE: HOSTILE},
        "trainable_params": 10,
        "total_params": 100,
        "val_acc": 0.5,
        "val_acc_std": 0.0,
        "macro_f1": 0.5,
        "macro_f1_std": 0.0,
        "best_val_acc": 0.5,
        "seeds": 1,
        "wall_s": 1.0,
        "wall_s_std": 0.0,
        "train_images_per_s": 10.0,
        "epochs": 1,
        "reused_from": None,
        "curves": [{"val_acc": [0.4, 0.5], "elapsed_s": [0.5, 1.0]}],
        "runs": [run],
    }


@pytest.mark.xdist_group("browser")
def test_compare_report_fields_are_escaped(tmp_path):
    from headstart.compare.report import write_compare_report
    from headstart.compare.run import CompareResult

    result = CompareResult(
        tmp_path / "cmp",
        [_compare_row("scratch", HOSTILE), _compare_row(HOSTILE, HOSTILE)],
        {"strategy": HOSTILE, "reasons": [HOSTILE], "overrides": {}, "measurements": {"x": 1}},
        {"data": HOSTILE, "backbone": HOSTILE, "epochs": 1, "seeds": [0], "batch_size": 4},
    )
    result.run_dir.mkdir()
    write_compare_report(result)
    assert_inert(result.run_dir / "report.html")
    assert_markdown_inert(result.run_dir / "report.md", tmp_path)


@pytest.mark.xdist_group("browser")
def test_text_reports_fields_are_escaped(tmp_path):
    from headstart.text.compare import CompareResult, StrategyResult
    from headstart.text.report import write_compare_report, write_run_report

    run = tmp_path / "text-run"
    run.mkdir()
    shutil.copy(_png(tmp_path), run / "curves.png")
    write_run_report(
        run,
        lead=HOSTILE,
        plan=HOSTILE,
        counts=[{"class": HOSTILE, "train": 1, "val": 1}],
        rows=[{"epoch": 1, "train_loss": 0.1, "val_acc": 0.5}],
        per_class=[{"class": HOSTILE, "precision": 1, "recall": 1, "f1": 1, "support": 1}],
        mistakes=[{"text": HOSTILE, "true": HOSTILE, "predicted": FOLDER, "confidence": 0.9}],
        environment={"model": HOSTILE},
    )
    assert_inert(run / "report.html")
    assert_markdown_inert(run / "report.md", tmp_path)

    row = StrategyResult(HOSTILE, 1, 2, 0.5, 0.5, 0.5, 1, 1.0, 1.0, HOSTILE, 0.1, 0.1, HOSTILE)
    cmp_dir = tmp_path / "text-compare"
    cmp_dir.mkdir()
    result = CompareResult(cmp_dir, [row], {"data": HOSTILE, "model": HOSTILE})
    write_compare_report(result, {HOSTILE: [{"epoch": "1", "val_acc": "0.5"}]})
    assert_inert(cmp_dir / "report.html")
    assert_markdown_inert(cmp_dir / "report.md", tmp_path)


@pytest.mark.xdist_group("browser")
def test_adaptation_report_fields_are_escaped(tmp_path):
    from headstart.adaptation.adapt import AdaptResult
    from headstart.adaptation.config import AdaptConfig
    from headstart.adaptation.report import summarise, write_report
    from headstart.adaptation.train import MethodResult

    rng = np.random.default_rng(0)
    feats = (rng.normal(size=(12, 4)), rng.normal(size=(12, 4)))
    runs = [
        MethodResult(m, 0, 0.5, 0.5, 0.1, 0.1, 0.5, 1.0, 1.0, HOSTILE, [], feats)
        for m in ("source-only", "dann")
    ]
    run_dir = tmp_path / "adapt"
    run_dir.mkdir()
    result = AdaptResult(run_dir, runs, summarise(runs), 0.2, 0.2)
    cfg = AdaptConfig(source=HOSTILE, target=HOSTILE, map_method="pca", epochs=1)
    prepared = SimpleNamespace(
        cfg=cfg,
        data=SimpleNamespace(root=HOSTILE, train=[0] * 8, val=[0] * 2),
        target=SimpleNamespace(pool_root=HOSTILE, pool=[0], evaluation=[0], note=HOSTILE),
        backbone=SimpleNamespace(name=HOSTILE, weights_source=HOSTILE),
        input_note=HOSTILE,
        plan=SimpleNamespace(to_dict=lambda: {}),
    )
    write_report(result, prepared, feats, 1.0)
    assert_inert(run_dir / "report.html")
    assert_markdown_inert(run_dir / "report.md", tmp_path)


@pytest.mark.xdist_group("browser")
def test_embeddings_report_fields_are_escaped(tmp_path):
    from headstart.embeddings.report import write_report
    from headstart.embeddings.store import Item, save_embeddings

    root = tmp_path / "emb"
    items = [Item(HOSTILE, Path(HOSTILE), FOLDER, "val"), Item("2", Path("b"), HOSTILE, "val")]
    meta = {"encoder": {"description": HOSTILE}, "inputs": [HOSTILE]}
    save_embeddings(root, np.ones((2, 3), np.float32), items, meta)
    shutil.copy(_png(tmp_path), root / "map-tsne.png")
    assert_inert(write_report(root))


def test_labels_with_dollar_signs_are_plotted_as_text(tmp_path):
    """Matplotlib would parse ``$...$`` in a class name as mathtext and fail on save."""
    from headstart.report.plots import plot_confusion

    png = plot_confusion(tmp_path / "cm.png", np.eye(2, dtype=int), ["a$\\frac$", "$b"])
    assert png.stat().st_size > 0


def test_a_value_marked_safe_is_still_escaped():
    """Escaping is the template's, not the caller's: even ``Markup`` cannot bring markup in."""
    from markupsafe import Markup

    from headstart.report.html import key_values, page, text

    html = page(Markup("<b>t</b>"), Markup("<i>"), [("s", [text(Markup("<script>"))])])
    html += page("t", "l", [("s", key_values([(Markup("<b>"), Markup("<u>"))]))])
    assert "<b>" not in html and "<i>" not in html and "<script>" not in html
    assert "&lt;script&gt;" in html
    with pytest.raises(TypeError):
        page("t", "l", [("s", "<p>raw html</p>")])  # a string is not a block
