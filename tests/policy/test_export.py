"""ONNX export (window and KV graphs), exact metadata, checkpoints, atomic writes, int8 quantisation."""

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from _walk_tokens import episodes

from hgpt_core.errors import MetadataMismatchError
from hgpt_core.policy_spec import METADATA_KEY, read_onnx_metadata
from hgpt_policy.config import baseline_config, gpt_config
from hgpt_policy.export import (
    atomic_write_bytes,
    export_onnx,
    export_policy,
    load_checkpoint,
    save_checkpoint,
)
from hgpt_policy.model import build_policy, make_metadata
from hgpt_policy.quantize import quantization_error, quantize_int8

H = 8
TINY = {"n_layer": 2, "n_embd": 32, "n_head": 2, "mlp_hidden": 64, "context_len": H}


def gpt(inference: str = "sliding_kv"):
    torch.manual_seed(0)
    cfg = gpt_config("S", inference, **TINY)
    model = build_policy(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    meta = make_metadata(cfg, "tiny", training={"tokens": 123, "note": "ünïcode ok"})
    meta.kp[3] = 99.09841234567891  # a float that a 3-decimal CSV would not round-trip
    return model.eval(), meta


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_window_graph_matches_torch_for_every_length(tmp_path):
    model, meta = gpt("window")
    path = export_onnx(model, meta, tmp_path / "w.onnx", "window")
    sess = session(path)
    assert onnx.load(str(path)).opset_import[0].version >= 17
    x = torch.randn(3, H, 161)
    for t in range(1, H + 1):  # dynamic T <= H, dynamic batch
        (got,) = sess.run(["action"], {"tokens": x[:, :t].numpy()})
        np.testing.assert_allclose(got, model(x[:, :t])[:, -1].detach().numpy(), rtol=0, atol=1e-4)


def test_kv_graph_matches_torch_step(tmp_path):
    model, meta = gpt("sliding_kv")
    path = export_onnx(model, meta, tmp_path / "kv.onnx", "kv_step")
    sess = session(path)
    names = [i.name for i in sess.get_inputs()]
    assert names == ["token", "pos", "k_cache_0", "v_cache_0", "k_cache_1", "v_cache_1"]
    assert [o.name for o in sess.get_outputs()] == ["action", "k_new", "v_new"]
    x = torch.randn(4, 3 * H, 161)
    k, v = model.empty_cache(4)
    for t in range(x.shape[1]):
        pos = torch.full((4,), t)
        pos[0] = max(0, t - 5)  # rows at different steps of their episodes
        caches = {f"{kv}_cache_{i}": c[i].numpy().copy() for i in range(2) for kv, c in (("k", k), ("v", v))}
        out = sess.run(None, {"token": x[:, t].numpy(), "pos": pos.numpy(), **caches})
        with torch.no_grad():
            a, k_new, _ = model.step_layers(x[:, t], pos, *(torch.from_numpy(c) for c in caches.values()))
            model.step(x[:, t], k, v, pos)  # advances the torch caches in place
        np.testing.assert_allclose(out[0], a.numpy(), rtol=0, atol=1e-4)
        np.testing.assert_allclose(out[1], k_new.numpy(), rtol=0, atol=1e-4)
        slot = int(pos[1]) % H
        np.testing.assert_allclose(k[:, 1, :, slot], k_new[1].transpose(0, 1).numpy(), rtol=0, atol=0)


def test_metadata_round_trips_exactly(tmp_path):
    model, meta = gpt()
    paths = export_policy(model, meta, tmp_path, "tiny")
    assert set(paths) == {"checkpoint", "window", "kv_step"}
    for graph in ("window", "kv_step"):
        props = {p.key: p.value for p in onnx.load(str(paths[graph])).metadata_props}
        assert props[METADATA_KEY] == meta.to_json()  # byte-exact JSON
        back = read_onnx_metadata(paths[graph])
        assert back == meta and back.kp[3] == 99.09841234567891
        assert session(paths[graph]).get_modelmeta().custom_metadata_map[METADATA_KEY] == meta.to_json()
    assert json.loads(meta.to_json())["arch"]["inference"] == "sliding_kv"


def test_read_metadata_rejects_foreign_onnx(tmp_path):
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    vi = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1]) for n in "xy"]
    onnx.save(
        onnx.helper.make_model(onnx.helper.make_graph([node], "g", vi[:1], vi[1:])), tmp_path / "f.onnx"
    )
    with pytest.raises(MetadataMismatchError, match="not an hgpt policy"):
        read_onnx_metadata(tmp_path / "f.onnx")


def test_export_refuses_metadata_that_does_not_describe_the_model(tmp_path):
    model, meta = gpt("sliding_kv")
    with pytest.raises(MetadataMismatchError, match="built for 'sliding_kv'"):
        export_onnx(model, dataclasses.replace(meta, inference="window"), tmp_path / "x.onnx")
    with pytest.raises(MetadataMismatchError, match="context_len"):
        save_checkpoint(tmp_path / "x.pt", model, dataclasses.replace(meta, context_len=32))
    mlp = build_policy(baseline_config("mlp"))
    with pytest.raises(ValueError, match="needs a GPT"):
        export_onnx(mlp, make_metadata(mlp.config, "m"), tmp_path / "m.onnx", "kv_step")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_checkpoint_round_trip_with_normalizer(tmp_path):
    model, meta = gpt()
    model.train()
    model.normalizer.update(torch.randn(100, 161) * 3 + 1)
    model.normalizer.freeze()
    model.eval()
    path = save_checkpoint(tmp_path / "c.pt", model, meta, step=42)
    loaded, meta2 = load_checkpoint(path)
    assert meta2.to_json() == meta.to_json()
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    assert bool(loaded.normalizer.frozen) and not loaded.training
    assert torch.load(path, weights_only=True)["extra"] == {"step": 42}
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception):  # noqa: B017 - torch's unpickling error type is not public
        load_checkpoint(tmp_path / "junk.pt")


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"
    atomic_write_bytes(target, b"old")

    def boom(*_):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.bin"]


@pytest.mark.parametrize("method", ["blockwise", "dynamic"])
@pytest.mark.parametrize("inference", ["window", "sliding_kv"])
def test_int8_error_is_measured_on_real_tokens(inference, method, tmp_path, shared_data_or_skip):
    model, meta = gpt(inference)
    tok = episodes(shared_data_or_skip, batch=2, length=3 * H)
    model.train()
    model.normalizer.update(torch.from_numpy(tok))
    model.eval()
    graph = "kv_step" if inference == "sliding_kv" else "window"
    fp32 = export_onnx(model, meta, tmp_path / "f.onnx", graph)
    q = quantize_int8(fp32, tmp_path / "q.onnx", method)
    assert read_onnx_metadata(q) == meta
    ops = {n.op_type for n in onnx.load(str(q)).graph.node}
    assert ops & {"MatMulNBits", "DynamicQuantizeMatMul", "MatMulInteger"}
    if method == "blockwise":  # every weight MatMul quantised, its bias Add folded in
        n_weights = 4 * TINY["n_layer"] + 2
        assert sum(n.op_type == "MatMulNBits" for n in onnx.load(str(q)).graph.node) == n_weights
        assert sum(n.op_type == "Add" for n in onnx.load(str(fp32)).graph.node) > sum(
            n.op_type == "Add" for n in onnx.load(str(q)).graph.node
        )
    err = quantization_error(fp32, q, tok)
    print(f"int8 {method} vs fp32 ({inference}): {err}")
    assert all(np.isfinite(v) for v in err.values())
    assert err["mean_abs"] > 0.0 and err["rel"] < 0.05


@pytest.mark.parametrize(
    ("cfg", "n_linear"),
    [
        (baseline_config("mlp", mlp_dims=(64, 32)), 3),
        (baseline_config("mlp_stacked", context_len=H, mlp_dims=(64, 32)), 3),
        (baseline_config("tcn", tcn_channels=16, tcn_dilations=(1, 2), context_len=H), 2),  # convs stay fp32
        (gpt_config("S", "window", **TINY), 4 * TINY["n_layer"] + 2),
    ],
    ids=["mlp", "mlp_stacked", "tcn", "gpt"],
)
def test_int8_quantises_every_linear(cfg, n_linear, tmp_path):
    model = build_policy(cfg).eval()
    fp32 = export_onnx(model, make_metadata(cfg, "m"), tmp_path / "f.onnx")
    q = quantize_int8(fp32, tmp_path / "q.onnx")
    assert sum(n.op_type == "MatMulNBits" for n in onnx.load(str(q)).graph.node) == n_linear
    assert not any(n.op_type == "Gemm" for n in onnx.load(str(q)).graph.node)
    assert (q.stat().st_mode & 0o777) == 0o644
