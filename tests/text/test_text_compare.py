"""``compare_text``: all strategies with one budget, the table and the report files.

Plumbing tests on a tiny randomly initialised BERT (see conftest.py): figures are checked for
presence and consistency, never for accuracy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from text_helpers import tiny_text_config

from headstart.errors import HeadstartError
from headstart.text.compare import compare_text
from headstart.text.config import STRATEGIES


def test_compare_writes_table_results_and_reports(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path
) -> None:
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), out=str(tmp_path))
    res = compare_text(config=cfg, strategies=STRATEGIES, isolate=False)
    assert [r.strategy for r in res.rows] == list(STRATEGIES)
    by = {r.strategy: r for r in res.rows}
    # every strategy counts the head; only full trains (nearly) everything
    assert by["feature-extraction"].trainable_params == 32 * 2 + 2
    assert by["full"].trainable_params == by["full"].total_params
    for s in ("lora", "ia3", "prompt", "prefix"):
        assert (
            by["feature-extraction"].trainable_params
            < by[s].trainable_params
            < by["full"].trainable_params
        )
    for r in res.rows:
        assert 0.0 <= r.accuracy <= 1.0 and r.seconds > 0 and r.peak_mib >= 0
        assert (Path(r.run_dir) / "checkpoints" / "best.safetensors").is_file()
    table = res.table()
    assert all(re.search(rf"^{s}\s", table, re.M) for s in STRATEGIES)

    out = res.run_dir
    data = json.loads((out / "results.json").read_text())
    assert [r["strategy"] for r in data["rows"]] == list(STRATEGIES)
    assert data["settings"]["epochs"] == 1 and data["memory"]
    md = (out / "report.md").read_text()
    assert "| strategy | trainable | % of model |" in md and "| lora |" in md
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html  # self-contained: the chart is inlined
    assert not re.search(r"src=['\"](?!data:)", html)  # nothing loaded from elsewhere


@pytest.mark.slow
def test_compare_in_fresh_processes(tiny_bert: Path, reviews_csv: Path, tmp_path: Path) -> None:
    """The default: each strategy in a process of its own (own peak memory and time)."""
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), out=str(tmp_path))
    res = compare_text(config=cfg, strategies=["feature-extraction"], isolate=True)
    row = res.rows[0]
    assert row.strategy == "feature-extraction" and row.peak_mib > 0 and "RSS" in row.memory_kind
    assert (res.run_dir / "feature-extraction" / "compare_result.json").is_file()


def test_compare_refuses_unknown_strategies_and_bad_data(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path
) -> None:
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), out=str(tmp_path))
    with pytest.raises(HeadstartError, match="unknown --strategy 'adapterx'"):
        compare_text(config=cfg, strategies=["lora", "adapterx"], isolate=False)
    with pytest.raises(HeadstartError, match="no column 'text'"):
        compare_text(config=cfg, strategies=["lora"], isolate=False, text_col="text")
    assert not (tmp_path / "text-compare").exists()  # nothing started


@pytest.mark.slow
def test_resume_reuses_finished_strategies_with_the_same_settings(
    tiny_bert: Path, reviews_csv: Path, tmp_path: Path
) -> None:
    cfg = tiny_text_config(tiny_bert, data=str(reviews_csv), out=str(tmp_path))
    first = compare_text(config=cfg, strategies=["feature-extraction"], isolate=True)
    # The isolated run left its config and result; an in-process resume reuses them ...
    again = compare_text(
        config=cfg, strategies=["feature-extraction", "lora"], isolate=False, resume=first.run_dir
    )
    assert again.run_dir == first.run_dir
    assert again.rows[0] == first.rows[0] and again.rows[1].strategy == "lora"
    assert "| lora |" in (first.run_dir / "report.md").read_text()
    # ... but not when a setting that changes the measurement differs.
    other = compare_text(
        config=cfg,
        strategies=["feature-extraction"],
        isolate=False,
        resume=first.run_dir,
        max_length=16,
    )
    assert other.rows[0] != first.rows[0]
    with pytest.raises(HeadstartError, match="no such compare directory"):
        compare_text(config=cfg, strategies=["feature-extraction"], resume=tmp_path / "nope")
