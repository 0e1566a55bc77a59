"""Inference engines behind :class:`hgpt_policy.runtime.Policy`: torch, onnxruntime, TensorRT (via ORT's EP).

An engine runs one graph. ``window(tokens (B, T, obs)) -> (B, act)`` for the window graph;
``kv_step(token (B, obs), pos (B,)) -> (B, act)`` for the KV graph, with the caches held by the engine
(``kv_alloc`` / ``kv_reset`` manage them). Engines do not check metadata; the Policy does.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hgpt_core.errors import HgptError

BACKENDS = ("torch", "onnxruntime", "tensorrt")


class BackendUnavailable(HgptError, RuntimeError):
    """The requested inference backend cannot run here (module or execution provider missing)."""


class TorchEngine:
    """Runs the PyTorch module (reference implementation, and training-time rollouts)."""

    def __init__(self, model: torch.nn.Module, graph: str, threads: int | None = None) -> None:
        # GPT / MLP / TCN share act_last, empty_cache and step by convention, not through a base class.
        self.model: Any = model.eval()
        self.graph = graph
        if threads is not None:
            torch.set_num_threads(threads)  # process-wide: torch has no per-module thread count
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    @torch.no_grad()
    def window(self, tokens: np.ndarray) -> np.ndarray:
        return self.model.act_last(torch.from_numpy(tokens)).numpy()

    def kv_alloc(self, batch: int) -> None:
        self.k, self.v = self.model.empty_cache(batch)

    def kv_reset(self, rows: np.ndarray) -> None:
        assert self.k is not None and self.v is not None, "kv_alloc first"
        self.k[:, rows] = 0.0
        self.v[:, rows] = 0.0

    @torch.no_grad()
    def kv_step(self, token: np.ndarray, pos: np.ndarray) -> np.ndarray:
        a, self.k, self.v = self.model.step(torch.from_numpy(token), self.k, self.v, torch.from_numpy(pos))
        return a.numpy()


def session_options(threads: int = 1, spinning: bool = True, optimize: bool = True):
    """ORT options for latency at batch 1: sequential execution, all graph optimisations, ``threads``
    intra-op threads. Spinning threads cut wake-up latency but burn the core while idle."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return so


def ort_providers(backend: str) -> list[str]:
    """Execution providers for ``backend``; raises BackendUnavailable with the reason when it cannot run."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise BackendUnavailable(f"backend '{backend}' needs onnxruntime: {exc}") from exc
    avail = ort.get_available_providers()
    if backend == "onnxruntime":
        return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in avail]
    if backend == "tensorrt":
        if importlib.util.find_spec("tensorrt") is None:
            raise BackendUnavailable(
                "backend 'tensorrt' needs the 'tensorrt' Python module, which is not installed"
            )
        if "TensorrtExecutionProvider" not in avail:
            raise BackendUnavailable(
                "backend 'tensorrt' needs onnxruntime-gpu with the TensorRT execution provider; "
                f"available: {avail}"
            )
        return ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    raise BackendUnavailable(f"backend '{backend}' not one of {BACKENDS}")


def write_ring(
    k_cache: np.ndarray, v_cache: np.ndarray, k_new: np.ndarray, v_new: np.ndarray, pos: np.ndarray
):
    """Write the KV graph's new keys/values into ring slot ``pos % H`` of each row, in place.

    Caches (n_layer, B, nh, H, hd); k_new, v_new (B, nh, n_layer, hd); pos (B,) int64.
    """
    slots = pos % k_cache.shape[3]
    if len(slots) == 1 or (slots == slots[0]).all():  # rows in lockstep: basic slicing, 2x faster
        s = int(slots[0])
        k_cache[:, :, :, s] = k_new.transpose(2, 0, 1, 3)
        v_cache[:, :, :, s] = v_new.transpose(2, 0, 1, 3)
        return
    rows = np.arange(len(pos))
    k_cache[:, rows, :, slots] = k_new.transpose(0, 2, 1, 3)
    v_cache[:, rows, :, slots] = v_new.transpose(0, 2, 1, 3)


class OrtEngine:
    """onnxruntime session (CPU, CUDA or TensorRT provider).

    The KV graph runs through an IOBinding made once per batch size: inputs and outputs are OrtValues
    over preallocated numpy arrays (the caches ``k``, ``v`` of shape (n_layer, B, nh, H, hd) bound layer
    by layer as views), so a step allocates nothing; the new key/value are then written into the ring
    in place. With a GPU provider ORT copies the bound host arrays to the device on each run.
    """

    def __init__(
        self, path: str | Path, graph: str, backend: str = "onnxruntime", threads: int = 1, spinning=True
    ):
        import onnxruntime as ort

        self.ort, self.graph = ort, graph
        providers = ort_providers(backend)
        self.sess = ort.InferenceSession(str(path), session_options(threads, spinning), providers=providers)
        if graph == "kv_step":
            self.n_layer = (len(self.sess.get_inputs()) - 2) // 2
            self.cache_dims = [
                int(d) for d in self.sess.get_inputs()[2].shape[1:]
            ]  # k_cache_0: (B, nh, H, hd)
        self.binding = None

    def window(self, tokens: np.ndarray) -> np.ndarray:
        return self.sess.run(["action"], {"tokens": tokens})[0]

    def kv_alloc(self, batch: int) -> None:
        ov = self.ort.OrtValue
        inputs, outputs = self.sess.get_inputs(), self.sess.get_outputs()
        nh, h, hd = self.cache_dims
        self.token = np.zeros((batch, inputs[0].shape[1]), np.float32)
        self.pos = np.zeros(batch, np.int64)
        self.action = np.zeros((batch, outputs[0].shape[1]), np.float32)
        self.k_new, self.v_new = (np.zeros((batch, nh, self.n_layer, hd), np.float32) for _ in "kv")
        self.k, self.v = (np.zeros((self.n_layer, batch, nh, h, hd), np.float32) for _ in "kv")
        self.values = []  # keep the OrtValues (and so the buffers they view) alive with the binding
        io = self.sess.io_binding()
        for name, arr, bind in (
            ("token", self.token, io.bind_ortvalue_input),
            ("pos", self.pos, io.bind_ortvalue_input),
            ("action", self.action, io.bind_ortvalue_output),
            ("k_new", self.k_new, io.bind_ortvalue_output),
            ("v_new", self.v_new, io.bind_ortvalue_output),
            *(
                (f"{kv}_cache_{i}", c[i], io.bind_ortvalue_input)
                for i in range(self.n_layer)
                for kv, c in (("k", self.k), ("v", self.v))
            ),
        ):
            self.values.append(ov.ortvalue_from_numpy(arr))
            bind(name, self.values[-1])
        self.binding = io

    def kv_reset(self, rows: np.ndarray) -> None:
        self.k[:, rows] = 0.0
        self.v[:, rows] = 0.0

    def kv_step(self, token: np.ndarray, pos: np.ndarray) -> np.ndarray:
        self.token[...] = token
        self.pos[...] = pos
        self.sess.run_with_iobinding(self.binding)
        write_ring(self.k, self.v, self.k_new, self.v_new, self.pos)
        return self.action.copy()
