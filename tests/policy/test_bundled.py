"""The bundled Humanoid-GPT spec ``hgpt``: resolves to the one bundled graph, loads with its metadata checks,
and says how to make one when none is bundled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hgpt_policy.loader as loader
from hgpt_policy.config import gpt_config
from hgpt_policy.export import export_onnx
from hgpt_policy.model import build_policy, make_metadata


def test_missing_bundle_says_what_to_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(loader, "BUNDLED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="hgpt train release --bundle"):
        loader.load_tracking_policy("hgpt")


def test_bundled_graph_loads_and_acts(tmp_path: Path, monkeypatch) -> None:
    arch = gpt_config("S", "sliding_kv", n_layer=1)
    model = build_policy(arch).eval()
    export_onnx(model, make_metadata(arch, "bundled-test"), tmp_path / "g.kv_step.onnx", "kv_step")
    monkeypatch.setattr(loader, "BUNDLED_DIR", tmp_path)
    assert loader.resolve_spec("hgpt") == str(tmp_path / "g.kv_step.onnx")
    assert loader.resolve_spec("twist2") == "twist2"
    policy = loader.load_tracking_policy("hgpt")
    assert policy.meta.policy_id == "bundled-test" and policy.meta.inference == "sliding_kv"


def test_shipped_bundle_when_present() -> None:
    """If the project ships a Humanoid-GPT, it is one graph with its card, and its metadata is sound."""
    files = sorted(loader.BUNDLED_DIR.glob("*.onnx"))
    if not files:
        pytest.skip("no Humanoid-GPT bundled in this checkout")
    from hgpt_policy.export import read_onnx_metadata

    assert len(files) == 1 and (loader.BUNDLED_DIR / "CARD.md").is_file()
    meta = read_onnx_metadata(files[0])
    assert not meta.self_check() and meta.training.get("trained_tokens", 0) > 0
    assert np.isfinite(meta.arrays()["kp"]).all()
