"""Inference engines behind :class:`hgpt_policy.runtime.Policy`: torch, onnxruntime, TensorRT (via ORT's EP).

An engine runs one graph. ``window(tokens (B, T, obs)) -> (B, act)`` for the window graph;
``kv_step(token (B, obs), pos (B,)) -> (B, act)`` for the KV graph, with the caches held by the engine
(``kv_alloc`` / ``kv_reset`` manage them). Engines do not check metadata; the Policy does.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from hgpt_core.errors import HgptError

BACKENDS = ("torch", "onnxruntime", "tensorrt")


class BackendUnavailable(HgptError, RuntimeError):
    """The requested inference backend cannot run here (module or execution provider missing)."""


class TorchEngine:
    """Runs the PyTorch module (reference implementation, and training-time rollouts)."""

    def __init__(self, model: torch.nn.Module, graph: str, threads: int | None = None) -> None:
        self.model, self.graph = model.eval(), graph
        if threads is not None:
            torch.set_num_threads(threads)  # process-wide: torch has no per-module thread count
        self.k = self.v = None

    @torch.no_grad()
    def window(self, tokens: np.ndarray) -> np.ndarray:
        return self.model.act_last(torch.from_numpy(tokens)).numpy()

    def kv_alloc(self, batch: int) -> None:
        self.k, self.v = self.model.empty_cache(batch)

    def kv_reset(self, rows: np.ndarray) -> None:
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


class OrtEngine:
    """onnxruntime session (CPU, CUDA or TensorRT provider).

    The KV graph runs through IOBinding with two preallocated cache sets used in turn (step n reads set A
    and writes set B), bound once, so a step allocates nothing and copies only the token and the action.
    On CPU the bound OrtValues wrap numpy arrays (``caches[set][k|v]``, shape (n_layer, B, nh, H, hd)).
    """

    def __init__(
        self, path: str | Path, graph: str, backend: str = "onnxruntime", threads: int = 1, spinning=True
    ):
        import onnxruntime as ort

        self.ort, self.graph = ort, graph
        providers = ort_providers(backend)
        self.sess = ort.InferenceSession(str(path), session_options(threads, spinning), providers=providers)
        self.device = "cpu" if self.sess.get_providers()[0] == "CPUExecutionProvider" else "cuda"
        if graph == "kv_step":
            self.n_layer = (len(self.sess.get_inputs()) - 2) // 2
            self.cache_dims = [
                int(d) for d in self.sess.get_inputs()[2].shape[1:]
            ]  # k_cache_0: (B, nh, H, hd)
        self.bindings: list = []

    def window(self, tokens: np.ndarray) -> np.ndarray:
        return self.sess.run(["action"], {"tokens": tokens})[0]

    def kv_alloc(self, batch: int) -> None:
        ov = self.ort.OrtValue
        self.token = np.zeros((batch, self.sess.get_inputs()[0].shape[1]), np.float32)
        self.pos = np.zeros(batch, np.int64)
        self.action = np.zeros((batch, self.sess.get_outputs()[0].shape[1]), np.float32)
        shape = (self.n_layer, batch, *self.cache_dims)
        self.caches = [[np.zeros(shape, np.float32) for _ in "kv"] for _ in range(2)]  # [set][k, v]
        dev = ("cpu", 0) if self.device == "cpu" else ("cuda", 0)
        # [set][k, v][layer]; on CPU each OrtValue shares memory with a layer of the numpy array
        self.cache_values = [
            [[ov.ortvalue_from_numpy(c[i], *dev) for i in range(self.n_layer)] for c in st]
            for st in self.caches
        ]
        tok, pos, act = (ov.ortvalue_from_numpy(a) for a in (self.token, self.pos, self.action))
        self.bindings = []
        for src, dst in ((0, 1), (1, 0)):
            io = self.sess.io_binding()
            io.bind_ortvalue_input("token", tok)
            io.bind_ortvalue_input("pos", pos)
            io.bind_ortvalue_output("action", act)
            for i in range(self.n_layer):
                for j, kv in enumerate("kv"):
                    io.bind_ortvalue_input(f"{kv}_cache_{i}", self.cache_values[src][j][i])
                    io.bind_ortvalue_output(f"{kv}_cache_{i}_out", self.cache_values[dst][j][i])
            self.bindings.append(io)
        self.turn = 0

    def kv_reset(self, rows: np.ndarray) -> None:
        for st in range(2):
            for j in range(2):
                self.caches[st][j][:, rows] = 0.0
                if self.device != "cpu":  # device copies: refresh them from the host arrays
                    for i in range(self.n_layer):
                        self.cache_values[st][j][i].update_inplace(self.caches[st][j][i])

    def kv_step(self, token: np.ndarray, pos: np.ndarray) -> np.ndarray:
        self.token[...] = token
        self.pos[...] = pos
        self.sess.run_with_iobinding(self.bindings[self.turn])
        self.turn ^= 1
        return self.action.copy()
