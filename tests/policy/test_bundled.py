"""The bundled Humanoid-GPT spec ``hgpt``: resolves to the one bundled graph, loads with its metadata checks,
and says how to make one when none is bundled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hgpt_core.policy_spec as policy_spec
import hgpt_policy.loader as loader
from hgpt_core.policy_spec import read_onnx_metadata
from hgpt_policy.config import gpt_config
from hgpt_policy.export import export_onnx
from hgpt_policy.model import build_policy, make_metadata


def test_missing_bundle_says_what_to_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(policy_spec, "BUNDLED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="hgpt train release --bundle"):
        loader.load_tracking_policy("hgpt")


def test_bundled_graph_loads_and_acts(tmp_path: Path, monkeypatch) -> None:
    arch = gpt_config("S", "sliding_kv", n_layer=1)
    model = build_policy(arch).eval()
    export_onnx(model, make_metadata(arch, "bundled-test"), tmp_path / "g.kv_step.onnx", "kv_step")
    monkeypatch.setattr(policy_spec, "BUNDLED_DIR", tmp_path)
    assert policy_spec.parse_policy_spec("hgpt").path == tmp_path / "g.kv_step.onnx"
    assert policy_spec.parse_policy_spec("twist2").kind == "twist2"
    policy = loader.load_tracking_policy("hgpt")
    assert policy.meta.policy_id == "bundled-test" and policy.meta.inference == "sliding_kv"


def test_shipped_bundle_when_present() -> None:
    """If the project ships a Humanoid-GPT, it is one graph with its card, and its metadata is sound."""
    files = sorted(policy_spec.BUNDLED_DIR.glob("*.onnx"))
    if not files:
        pytest.skip("no Humanoid-GPT bundled in this checkout")

    assert len(files) == 1 and (policy_spec.BUNDLED_DIR / "CARD.md").is_file()
    meta = read_onnx_metadata(files[0])
    assert not meta.self_check() and meta.training.get("trained_tokens", 0) > 0
    assert np.isfinite(meta.arrays()["kp"]).all()
