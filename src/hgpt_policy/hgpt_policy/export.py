"""Checkpoints and ONNX export. Every artifact carries its ``PolicyMetadata`` as exact JSON.

Graphs (ONNX opset >= 17, dynamic batch):

* ``window``: ``tokens`` (B, T, obs_dim) -> ``action`` (B, act_dim), the last position's action.
  T is dynamic (1..H) for GPT / TCN / single-frame MLP, fixed to H for the stacked-history MLP.
* ``kv_step`` (GPT only): ``token`` (B, obs_dim), ``pos`` (B,) int64 (step index in the episode), and per
  layer i the ring buffers ``k_cache_i``, ``v_cache_i`` (B, n_head, H, head_dim), read only ->
  ``action`` (B, act_dim), ``k_new``, ``v_new`` (B, n_head, n_layer, head_dim): the token's key/value per
  layer, which the runtime writes into slot ``pos % H`` (so the graph copies no cache).

ONNX ``metadata_props``: ``hgpt_metadata`` (``PolicyMetadata.to_json()``) and ``hgpt_graph`` (the kind).
All files are written atomically (temporary file in the same folder, then ``os.replace``). int8
quantisation of these graphs is in :mod:`hgpt_policy.quantize`.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from hgpt_core.errors import MetadataMismatchError
from hgpt_core.motion import atomic_write_bytes
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.policy_spec import GRAPH_KEY, METADATA_KEY
from hgpt_policy.config import PolicyConfig, arch_differences
from hgpt_policy.model import KVStep, LastAction, build_policy

GRAPHS = ("window", "kv_step")
CHECKPOINT_FORMAT = "hgpt_policy_checkpoint/1"


def check_policy_metadata(model: nn.Module, meta: PolicyMetadata) -> None:
    """Raise MetadataMismatchError unless ``meta`` describes ``model`` (arch, semantics, sizes)."""
    diffs = meta.self_check() + arch_differences(meta)
    if meta.arch != model.config.to_dict():
        diffs.append("metadata arch differs from the model's config")
    if diffs:
        raise MetadataMismatchError(
            f"metadata of '{meta.policy_id}' does not describe the model:\n  " + "\n  ".join(diffs)
        )


# ---- checkpoints ---------------------------------------------------------------------------------------


def save_checkpoint(path: str | Path, model: nn.Module, meta: PolicyMetadata, **extra) -> Path:
    """Save state_dict + metadata JSON + config (+ ``extra`` plain values, e.g. optimizer step) atomically."""
    check_policy_metadata(model, meta)
    blob = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "metadata": meta.to_json(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": extra,
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[nn.Module, PolicyMetadata]:
    """Rebuild the model (eval mode) and its metadata; weights_only loading (no pickled code)."""
    blob = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise MetadataMismatchError(f"{path}: not an hgpt policy checkpoint ({CHECKPOINT_FORMAT})")
    meta = PolicyMetadata.from_json(blob["metadata"])
    model = build_policy(PolicyConfig.from_dict(blob["config"]))
    model.load_state_dict(blob["state_dict"])
    check_policy_metadata(model, meta)
    return model.eval(), meta


# ---- ONNX ----------------------------------------------------------------------------------------------


def _example_inputs(model: nn.Module, graph: str) -> tuple[tuple[torch.Tensor, ...], dict, list, list]:
    cfg: PolicyConfig = model.config
    b = 2
    if graph == "window":
        t = cfg.context_len if cfg.kind == "mlp_stacked" else min(3, cfg.context_len)
        axes = {"tokens": {0: "batch"} if cfg.kind == "mlp_stacked" else {0: "batch", 1: "time"}}
        axes["action"] = {0: "batch"}
        return (torch.randn(b, t, cfg.obs_dim),), axes, ["tokens"], ["action"]
    k, v = model.empty_cache(b)
    pos = torch.tensor([0, cfg.context_len + 3], dtype=torch.int64)
    caches = [c for kv in zip(k.unbind(0), v.unbind(0), strict=True) for c in kv]
    cache_names = [f"{kv}_cache_{i}" for i in range(cfg.n_layer) for kv in "kv"]
    names_in = ["token", "pos", *cache_names]
    names_out = ["action", "k_new", "v_new"]
    axes = {n: {0: "batch"} for n in names_in + names_out}
    return (torch.randn(b, cfg.obs_dim), pos, *caches), axes, names_in, names_out


def export_onnx(
    model: nn.Module, meta: PolicyMetadata, path: str | Path, graph: str = "window", opset: int = 17
):
    """Export one graph of ``model`` (see the module docstring) with ``meta`` attached; returns the path."""
    if graph not in GRAPHS:
        raise ValueError(f"graph '{graph}' not one of {GRAPHS}")
    if opset < 17:
        raise ValueError(f"opset {opset} < 17 (LayerNormalization needs 17)")
    check_policy_metadata(model, meta)
    if graph == "kv_step" and model.config.kind != "gpt":
        raise ValueError(f"kv_step graph needs a GPT; this is a '{model.config.kind}' policy")
    model = model.eval()
    wrapper = KVStep(model) if graph == "kv_step" else LastAction(model)
    args, axes, names_in, names_out = _example_inputs(model, graph)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            wrapper,
            args,
            buf,
            dynamo=False,  # needs no onnxscript; produces plain opset-17 ops that ORT and TensorRT fuse
            opset_version=opset,
            input_names=names_in,
            output_names=names_out,
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buf.getvalue())
    proto.producer_name = "hgpt_policy"
    onnx.helper.set_model_props(proto, {METADATA_KEY: meta.to_json(), GRAPH_KEY: graph})
    onnx.checker.check_model(proto)
    return atomic_write_bytes(path, proto.SerializeToString())


def export_policy(model: nn.Module, meta: PolicyMetadata, out_dir: str | Path, stem: str) -> dict[str, Path]:
    """Export every graph of a policy: ``<stem>.window.onnx`` always, ``<stem>.kv_step.onnx`` for GPTs
    (the runtime picks the one the metadata's semantics needs), and ``<stem>.pt`` (checkpoint)."""
    out = Path(out_dir)
    paths = {"checkpoint": save_checkpoint(out / f"{stem}.pt", model, meta)}
    for graph in GRAPHS if model.config.kind == "gpt" else ("window",):
        paths[graph] = export_onnx(model, meta, out / f"{stem}.{graph}.onnx", graph)
    return paths
