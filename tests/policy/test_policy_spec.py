"""One policy-spec grammar (hgpt_core.policy_spec): the loader (runs the policy), the G1 bridge (reads only
its metadata) and the simulator (hgpt_sim.policy_adapters.make_adapter: ``hgpt eval --policy``) accept the
same specs with the same metadata, and refuse the same ones; the simulator's own schemes (``expert:``) come
from an entry point, not from an import of hgpt_training. Real bundled policies (zero, hold_default, twist2,
hgpt) and real exported files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hgpt_core.errors import MetadataMismatchError
from hgpt_core.policy_spec import BUNDLED_DIR, parse_policy_spec, twist2_default_onnx
from hgpt_g1.bridge_config import load_policy_metadata
from hgpt_policy.config import gpt_config
from hgpt_policy.export import export_policy
from hgpt_policy.loader import BUILTIN, load_tracking_policy
from hgpt_policy.model import build_policy, make_metadata
from hgpt_sim import policy_adapters
from hgpt_sim.adapters import HgptAdapter
from hgpt_sim.policy_adapters import make_adapter, policy_name
from hgpt_sim.twist2 import Twist2Adapter

LOAD_ERRORS = (ValueError, FileNotFoundError, MetadataMismatchError)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A tiny exported GPT (.onnx window + kv graphs, .pt), a metadata .json, and broken files."""
    d = tmp_path_factory.mktemp("specs")
    torch.manual_seed(0)
    cfg = gpt_config("S", "sliding_kv", n_layer=1, n_embd=32, n_head=2, mlp_hidden=64, context_len=8)
    meta = make_metadata(cfg, "spec-test")
    paths = export_policy(build_policy(cfg).eval(), meta, d, "tiny")
    (d / "meta.json").write_text(meta.to_json())
    (d / "garbage.onnx").write_bytes(b"not an onnx file")
    (d / "plain.txt").write_text("x")
    return {**paths, "json": d / "meta.json", "garbage": d / "garbage.onnx", "txt": d / "plain.txt"}


def runnable_specs(files: dict[str, Path]) -> list[str]:
    if BUNDLED_DIR is None or not any(BUNDLED_DIR.glob("*.onnx")):
        pytest.skip("no Humanoid-GPT bundled in this checkout")
    if not twist2_default_onnx().is_file():
        pytest.skip(f"TWIST2 ONNX not found at {twist2_default_onnx()}")
    return [
        "zero",
        "hold_default",
        " zero ",
        "twist2",
        f"twist2:{twist2_default_onnx()}",
        "hgpt",
        str(files["kv_step"]),  # (its window graph is the wrong graph for sliding_kv: the runtime's check)
        str(files["checkpoint"]),
    ]


def test_loader_bridge_and_simulator_accept_the_same_specs_with_the_same_metadata(files) -> None:
    specs = runnable_specs(files)
    assert set(BUILTIN) <= set(specs)  # every built-in is covered
    for spec in specs:
        meta, problems = load_policy_metadata(spec)
        assert problems == [], (spec, problems)
        policy = load_tracking_policy(spec)
        assert policy.meta == meta, spec
        assert parse_policy_spec(spec).runnable
        adapter = make_adapter(spec)
        if parse_policy_spec(spec).kind == "twist2":  # the peer's own observation, gains and actuators
            assert isinstance(adapter, Twist2Adapter) and adapter.policy.meta == meta, spec
        else:
            assert isinstance(adapter, HgptAdapter) and adapter.meta == meta, spec
        assert adapter.control_dt == pytest.approx(meta.control_dt), spec


@pytest.mark.parametrize(
    ("key", "expect"),
    [
        ("walking_policy", "unknown policy"),
        ("", "empty"),
        ("/nonexistent/policy.onnx", "no such policy file"),
        ("/nonexistent/policy.pt", "no such policy file"),
        ("twist2:/nonexistent/t.onnx", "t.onnx"),
        ("garbage", "not a readable ONNX file"),
        ("txt", "unknown policy"),
    ],
)
def test_loader_and_bridge_refuse_the_same_specs(files, key, expect) -> None:
    spec = str(files[key]) if key in files else key
    with pytest.raises(LOAD_ERRORS, match=expect if key != "twist2:/nonexistent/t.onnx" else None):
        load_tracking_policy(spec)
    with pytest.raises(LOAD_ERRORS, match=expect if key != "twist2:/nonexistent/t.onnx" else None):
        make_adapter(spec)
    meta, problems = load_policy_metadata(spec)
    assert meta is None and len(problems) == 1, problems
    assert spec == "" or expect in problems[0], problems


def test_metadata_only_specs_are_for_the_bridge_not_the_loader(files) -> None:
    text = files["json"].read_text()
    for spec in (str(files["json"]), text):
        meta, problems = load_policy_metadata(spec)
        assert problems == [] and meta.policy_id == "spec-test"
        assert not parse_policy_spec(spec).runnable
        with pytest.raises(ValueError, match="metadata only"):
            load_tracking_policy(spec)
        with pytest.raises(ValueError, match="metadata only"):
            make_adapter(spec)


def test_simulator_schemes_come_from_entry_points_not_imports(files) -> None:
    """``expert:`` is hgpt_training's (an ``hgpt.policy_adapters`` entry point): importing the simulator's
    evaluation loads no hgpt_training module, and the scheme is known before any is imported."""
    if importlib.util.find_spec("hgpt_training") is None:
        pytest.skip("hgpt_training is not installed (pip install -e src/hgpt_training)")
    code = (
        "import sys\n"
        "import hgpt_sim.eval_runner, hgpt_sim.evaluate\n"
        "from hgpt_sim.policy_adapters import schemes, split_scheme\n"
        "print(schemes(), split_scheme('expert:x.pt'))\n"
        "print(sorted(m for m in sys.modules if m.startswith('hgpt_training')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    known, loaded = out.stdout.strip().splitlines()[-2:]
    assert "'expert'" in known and "('expert', 'x.pt')" in known, known
    assert loaded == "[]", loaded
    with pytest.raises(FileNotFoundError):  # the entry point ran: hgpt_training's load_expert opened it
        make_adapter("expert:/nonexistent/expert.pt")
    assert policy_name("expert:/a/cluster_003.pt") == "expert:cluster_003"
    assert policy_name(f"twist2:{twist2_default_onnx()}") == f"twist2:{twist2_default_onnx().stem}"


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ("expert:", "needs an argument"),
        ("expert:  ", "needs an argument"),
        ("walking:policy.onnx", "unknown scheme 'walking:'"),
        ("kmeans:/nonexistent/x.pt", "unknown scheme 'kmeans:'"),
    ],
)
def test_simulator_refuses_unknown_or_empty_schemes(spec, expect) -> None:
    if spec.startswith("expert") and "expert" not in policy_adapters.schemes():
        pytest.skip("hgpt_training (the expert: scheme) is not installed")
    with pytest.raises(ValueError, match=expect):
        make_adapter(spec)
    with pytest.raises(LOAD_ERRORS):  # the loader and the bridge have no schemes: refused there too
        load_tracking_policy(spec)
    meta, problems = load_policy_metadata(spec)
    assert meta is None and len(problems) == 1, problems


def test_registered_scheme_builds_its_adapter_and_cannot_shadow_twist2(monkeypatch) -> None:
    monkeypatch.setattr(policy_adapters, "_REGISTERED", {})
    made: list[str] = []

    def factory(arg: str):
        made.append(arg)
        return make_adapter("zero")

    policy_adapters.register_scheme("mine", factory)
    adapter = make_adapter(" mine: some/arg.bin ")
    assert made == ["some/arg.bin"] and isinstance(adapter, HgptAdapter)
    assert adapter.meta.policy_id == "hold_default"
    assert policy_name("mine:some/arg.bin") == "mine:arg"
    for bad in ("twist2", "Mine", "my-scheme", ""):
        with pytest.raises(ValueError, match="lower-case identifier"):
            policy_adapters.register_scheme(bad, factory)


def test_g1_and_retarget_import_without_hgpt_policy_or_torch() -> None:
    """hgpt_g1 and hgpt_retarget depend on hgpt_core + hgpt_ros only: importing every module of theirs and
    reading a bundled policy's metadata pulls in neither hgpt_policy nor torch."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import hgpt_g1, hgpt_retarget\n"
        "for pkg in (hgpt_g1, hgpt_retarget):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "from hgpt_g1.bridge_config import load_policy_metadata\n"
        "for spec in ('zero', 'twist2', 'hgpt'):\n"
        "    load_policy_metadata(spec)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('hgpt_policy', 'torch')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
