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
from hgpt_training.paper_table import TableConfig, main, parse_row, prefix_run


def tiny_base(corpus: Path, **kw) -> DistillConfig:
    """Rows of 320 tokens per round (8 envs x 40 steps), 2 training iterations per round, a 2-layer GPT."""
    collect = CollectConfig(
        num_envs=8, steps=40, steps_first=None, episode_steps=40, dr=False, progress=False
    )
    base = dict(corpus=corpus, rounds=1_000, n_layer=2, collect=collect, iters_first=2, iters_per_round=2)
    return DistillConfig(**{**base, "batch_size": 4, "threads": 1, "progress": False, **kw})


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
    base = tiny_base(small_corpus)
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
    # a row whose student has not reached its budget (still training) is refused, not tabled under its name
    import shutil

    shutil.copytree(tmp_path / "mlp_600", tmp_path / "mlp_1200")
    with pytest.raises(HgptError, match="640 of its 1,200 tokens"):
        main(dataclasses.replace(cfg, eval_only=True, rows=("mlp:1200",)))
    shutil.rmtree(tmp_path / "mlp_1200")
    cached = sorted(p.name.split("-")[0] for p in (tmp_path / "eval_cache").glob("*.pkl"))
    assert cached == ["gpt_s_600", "mlp_600", "twist2", "zero"]

    def no_eval(*a, **k):
        raise AssertionError("evaluated again although every policy's runs are cached")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("hgpt_sim.eval_runner.evaluate_policies", no_eval)
        again = main(dataclasses.replace(cfg, eval_only=True))  # the same table from the cache
    assert json.dumps(again["overall"], sort_keys=True) == json.dumps(
        doc["overall"], sort_keys=True
    )  # NaN-safe
    # the same table with each policy evaluated as its own Ray task (a cluster's fan-out), from an empty cache
    pytest.importorskip("ray")
    (tmp_path / "eval_cache").rename(tmp_path / "eval_cache_local")
    fanned = main(dataclasses.replace(cfg, eval_only=True, executor="ray", num_cpus=2))
    assert json.dumps(fanned["overall"], sort_keys=True) == json.dumps(doc["overall"], sort_keys=True)
    assert sorted(p.name for p in (tmp_path / "eval_cache").glob("*.pkl")) == sorted(
        p.name for p in (tmp_path / "eval_cache_local").glob("*.pkl")
    )
    for name in ("mlp:600", "gpt_s:600"):
        info = doc["rows"][name]
        assert info["collected_tokens"] >= 600 and info["rounds"] == 2  # 320 tokens per round
        assert 0.0 <= doc["overall"][name]["SR"] <= 1.0
    assert {"twist2", "zero"} <= set(doc["overall"])
    assert (tmp_path / "scaling.png").is_file() and "| gpt_s:600 |" in (tmp_path / "table.md").read_text()
    assert json.loads((tmp_path / "table.json").read_text())["ordering"]["gpt_s:2M > tcn:2M"] is None


@pytest.mark.slow
def test_longer_row_continues_from_a_shorter_one_identically(small_corpus: Path, tmp_path: Path) -> None:
    """Rows of one recipe are prefixes of each other: mlp:1200 continues from a finished mlp:600 (its token
    rounds hard-linked) and ends with the same tokens and weights as mlp:1200 trained from scratch (in a Ray
    task: ``--executor ray`` trains the same student as the local loop)."""
    import numpy as np
    import torch

    from hgpt_policy.export import load_checkpoint

    base = tiny_base(small_corpus, student="mlp", iters_first=3)
    cont = TableConfig(run_root=tmp_path / "a", rows=("mlp:1200", "mlp:600"), base=base, train_only=True)
    main(cont)  # shorter rows train first
    src, dst = tmp_path / "a" / "mlp_600" / "tokens", tmp_path / "a" / "mlp_1200" / "tokens"
    first = "round-0000/tokens.npy"
    assert (src / first).stat().st_ino == (dst / first).stat().st_ino  # continued, not recollected
    # from scratch, as a Ray task (the table's cluster path for rows)
    pytest.importorskip("ray")
    main(dataclasses.replace(cont, run_root=tmp_path / "b", rows=("mlp:1200",), executor="ray", num_cpus=1))
    b = tmp_path / "b" / "mlp_1200"
    for r in range(4):  # 320 tokens per round: rounds 0-3
        for name in ("tokens.npy", "labels.npy"):
            a_arr = np.load(dst / f"round-{r:04d}" / name)
            assert np.array_equal(a_arr, np.load(b / "tokens" / f"round-{r:04d}" / name)), (r, name)
    wa, wb = (load_checkpoint(d / "student.pt")[0].state_dict() for d in (dst.parent, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # a row of another recipe never continues from it
    other = dataclasses.replace(cont, base=dataclasses.replace(base, lr=1e-3))
    assert prefix_run(other, parse_row("mlp:2400")) is None
    assert prefix_run(cont, parse_row("mlp:2400")) == dst.parent


def test_ordering_checks_each_budget_and_the_history_semantics() -> None:
    from hgpt_training.paper_table import ordering

    rows = [parse_row(s) for s in ("mlp:300k", "tcn:300k", "gpt_s:300k", "gpt_s_window:300k", "gpt_s:790k")]
    sr = {
        "mlp:300k": 0.27,
        "tcn:300k": 0.80,
        "gpt_s:300k": 0.68,
        "gpt_s_window:300k": 0.94,
        "gpt_s:790k": 0.90,
    }
    claims = ordering(rows, {k: {"SR": v} for k, v in sr.items()})
    assert claims["gpt_s:300k > tcn:300k"] is False and claims["tcn:300k > mlp:300k"] is True
    assert claims["gpt_s_window:300k > tcn:300k"] is True and claims["gpt_s_window:300k > gpt_s:300k"] is True
    assert claims["gpt_s:790k > gpt_s:300k"] is True and claims["gpt_s:2M > tcn:2M"] is None
