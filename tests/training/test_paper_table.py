"""``hgpt train table`` at tiny scale on real corpus clips: every row trains to its token budget, all are
evaluated side by side on the test split, the table and the scaling plot are written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from hgpt_core.errors import HgptError
from hgpt_training.dagger import CollectConfig
from hgpt_training.distill import DistillConfig
from hgpt_training.paper_table import TableConfig, main, parse_row


def test_parse_rows() -> None:
    assert parse_row("gpt_s:2M").tokens == 2_000_000 and parse_row("gpt_s:2M").student == "gpt"
    assert parse_row("mlp:500k").tokens == 500_000 and parse_row("tcn:900").tokens == 900
    assert parse_row("gpt_s_window:300k").inference == "window"
    assert parse_row("gpt_s:2M").inference == "sliding_kv"
    with pytest.raises(HgptError, match="STUDENT:TOKENS"):
        parse_row("transformer:2M")


def test_train_only_and_eval_only_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(HgptError, match="exclude each other"):
        main(TableConfig(run_root=tmp_path, rows=("mlp:1k",), train_only=True, eval_only=True))


@pytest.mark.slow
def test_table_trains_rows_to_budget_and_compares(small_corpus: Path, tmp_path: Path) -> None:
    base = DistillConfig(
        corpus=small_corpus,
        rounds=1_000,
        n_layer=2,
        collect=CollectConfig(
            num_envs=8, steps=40, steps_first=None, episode_steps=40, dr=False, progress=False
        ),
        iters_first=2,
        iters_per_round=2,
        batch_size=4,
        threads=1,
        progress=False,
    )
    cfg = TableConfig(
        run_root=tmp_path,
        rows=("mlp:600", "gpt_s:600"),
        base=base,
        max_clips=1,
        starts=1,
        max_seconds=2.0,
        progress=False,
    )
    with pytest.raises(HgptError, match="no trained student"):
        main(dataclasses.replace(cfg, eval_only=True))
    trained = main(dataclasses.replace(cfg, train_only=True))  # train in one process, evaluate in another
    assert set(trained["rows"]) == {"mlp:600", "gpt_s:600"} and not (tmp_path / "table.md").exists()
    doc = main(dataclasses.replace(cfg, eval_only=True))
    for name in ("mlp:600", "gpt_s:600"):
        info = doc["rows"][name]
        assert info["collected_tokens"] >= 600 and info["rounds"] == 2  # 320 tokens per round
        assert 0.0 <= doc["overall"][name]["SR"] <= 1.0
    assert {"twist2", "zero"} <= set(doc["overall"])
    assert (tmp_path / "scaling.png").is_file() and "| gpt_s:600 |" in (tmp_path / "table.md").read_text()
    assert json.loads((tmp_path / "table.json").read_text())["ordering"]["gpt_s:2M > tcn:2M"] is None
