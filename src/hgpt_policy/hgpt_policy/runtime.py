"""One inference API for every policy kind and backend: ``Policy.step(token) -> action``.

The runtime keeps the token history the policy's semantics needs (from its metadata, never mixed):

* ``window``: the last H tokens. At the start of an episode it runs on the n < H tokens seen so far with
  positions 0..n-1 (no padding): for a causal model this is exactly the prefix of a full forward, which is
  also what a window-trained model saw at the start of its training episodes.
* ``sliding_kv``: a KV cache (ring buffer of H keys/values per layer); each step processes one token.
* ``stacked_history``: the last H tokens, padded at the start with copies of the first one.
* ``single_frame``: no history.

It refuses to start on any metadata mismatch (robot joints, token layout, control period, expected
semantics, or an artifact whose graph does not implement its semantics), listing every difference.
NaN guarding is the node's job; ``step`` only checks the shape.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hgpt_core.errors import MetadataMismatchError
from hgpt_core.policy_meta import PolicyMetadata, RobotConfig, metadata_differences
from hgpt_policy.config import arch_differences
from hgpt_policy.engines import BACKENDS, BackendUnavailable, OrtEngine, TorchEngine

__all__ = ["BACKENDS", "BackendUnavailable", "Policy", "decode_action", "graph_for"]

MAX_KV_POSITION = 2048 * 2048
"""Steps per episode the KV graph's RoPE tables cover (~23 h at 50 Hz); see ``layers.RotaryEmbedding``."""


def graph_for(inference: str) -> str:
    """The exported graph that implements a semantics: ``kv_step`` for sliding_kv, else ``window``."""
    return "kv_step" if inference == "sliding_kv" else "window"


def decode_action(action: np.ndarray, meta: PolicyMetadata) -> np.ndarray:
    """PD target [rad] = default_joint_pos + action_scale * action. Shape: (..., 29) -> (..., 29)."""
    a = meta.arrays()
    return a["default_joint_pos"] + a["action_scale"] * np.asarray(action, dtype=np.float64)


class Policy:
    """Stateful token -> action runtime for one policy (batch of B independent episodes).

    Args:
        engine: A TorchEngine or OrtEngine running the graph ``graph_for(meta.inference)``.
        meta: The policy's metadata (from its artifact).
        robot: What the deployment provides; default: the G1 with the deployable token at 50 Hz.
        inference: Semantics the caller expects (e.g. from its config); None accepts the policy's own.
    """

    def __init__(
        self, engine, meta: PolicyMetadata, robot: RobotConfig | None = None, inference: str | None = None
    ):
        robot = robot or RobotConfig()
        if inference is not None:
            robot = dataclasses.replace(robot, inference=inference)
        diffs = metadata_differences(meta, robot) + arch_differences(meta)
        if engine.graph != graph_for(meta.inference):
            diffs.append(
                f"inference '{meta.inference}' needs the '{graph_for(meta.inference)}' graph; "
                f"this artifact is the '{engine.graph}' graph"
            )
        if diffs:
            raise MetadataMismatchError(
                f"policy '{meta.policy_id}' cannot run here; refusing to start:\n  " + "\n  ".join(diffs)
            )
        self.engine, self.meta = engine, meta
        self.inference, self.h, self.obs_dim = meta.inference, meta.context_len, meta.obs_size
        self.batch: int | None = None

    # ---- construction ---------------------------------------------------------------------------

    @classmethod
    def from_model(cls, model, meta: PolicyMetadata, **kw) -> Policy:
        """Torch runtime around an in-memory model (training rollouts, tests)."""
        return cls(TorchEngine(model, graph_for(meta.inference)), meta, **kw)

    @classmethod
    def load(
        cls,
        path: str | Path,
        backend: str = "onnxruntime",
        threads: int = 1,
        spinning: bool = True,
        robot: RobotConfig | None = None,
        inference: str | None = None,
    ) -> Policy:
        """Load a ``.pt`` checkpoint (backend ``torch``) or an ``.onnx`` graph (``onnxruntime``/``tensorrt``).

        Raises:
            BackendUnavailable: the backend cannot run here (message says why).
            MetadataMismatchError: the artifact does not match the robot, the semantics or itself.
        """
        from hgpt_core.policy_spec import GRAPH_KEY, read_onnx_metadata, read_onnx_props
        from hgpt_policy.export import load_checkpoint

        path = Path(path)
        if backend not in BACKENDS:
            raise BackendUnavailable(f"backend '{backend}' not one of {BACKENDS}")
        if (path.suffix == ".pt") != (backend == "torch"):
            raise ValueError(
                f"{path.name}: backend 'torch' loads .pt checkpoints, '{backend}' loads .onnx graphs"
            )
        if backend == "torch":
            model, meta = load_checkpoint(path)
            return cls(TorchEngine(model, graph_for(meta.inference), threads), meta, robot, inference)
        meta = read_onnx_metadata(path)
        graph = read_onnx_props(path).get(GRAPH_KEY, "window")
        return cls(OrtEngine(path, graph, backend, threads, spinning), meta, robot, inference)

    # ---- stepping -------------------------------------------------------------------------------

    def _alloc(self, batch: int) -> None:
        self.batch = batch
        self.count = np.zeros(batch, np.int64)  # tokens seen this episode, per row
        if self.inference == "sliding_kv":
            self.engine.kv_alloc(batch)
        elif self.inference != "single_frame":
            self.hist = np.zeros((batch, self.h, self.obs_dim), np.float32)  # oldest first

    def reset(self, rows: np.ndarray | list[int] | None = None) -> None:
        """Start new episodes: all rows (None; the next step may change the batch size) or the given rows."""
        if rows is None or self.batch is None:
            self.batch = None
            return
        rows = np.asarray(rows, dtype=np.int64)
        self.count[rows] = 0
        if self.inference == "sliding_kv":
            self.engine.kv_reset(rows)

    def step(self, obs: np.ndarray) -> np.ndarray:
        """One control step. Token(s) (obs_dim,) or (B, obs_dim) -> raw action(s) (29,) or (B, 29).

        Raises:
            ValueError: wrong token shape, or a batch size different from the episode's.
        """
        x = np.asarray(obs, dtype=np.float32)
        if x.ndim not in (1, 2) or x.shape[-1] != self.obs_dim:
            raise ValueError(f"token shape {x.shape}; expected ({self.obs_dim},) or (B, {self.obs_dim})")
        xb = x[None] if x.ndim == 1 else x
        if self.batch is None:
            self._alloc(xb.shape[0])
        elif xb.shape[0] != self.batch:
            raise ValueError(
                f"batch of {xb.shape[0]} tokens in an episode of batch {self.batch}; reset() first"
            )
        if self.inference == "sliding_kv":
            if self.count.max() >= MAX_KV_POSITION:
                raise ValueError(f"episode longer than {MAX_KV_POSITION} steps; reset() the policy")
            act = self.engine.kv_step(xb, self.count)
        elif self.inference == "single_frame":
            act = self.engine.window(xb[:, None])
        else:
            act = self._window_step(xb)
        self.count += 1
        return act[0] if x.ndim == 1 else act

    def _window_step(self, xb: np.ndarray) -> np.ndarray:
        self.hist[:, :-1] = self.hist[:, 1:]
        self.hist[:, -1] = xb
        if self.inference == "stacked_history":
            first = self.count == 0
            self.hist[first] = xb[first, None]  # pad with the first token
            return self.engine.window(self.hist)
        n = np.minimum(self.count + 1, self.h)
        if (n == n[0]).all():
            return self.engine.window(np.ascontiguousarray(self.hist[:, self.h - n[0] :]))
        act = np.empty((xb.shape[0], len(self.meta.joint_names)), np.float32)
        for m in np.unique(n):  # rows at different episode steps see windows of different lengths
            rows = np.flatnonzero(n == m)
            act[rows] = self.engine.window(np.ascontiguousarray(self.hist[rows, self.h - m :]))
        return act

    def run(self, tokens: np.ndarray) -> np.ndarray:
        """Reset, then step through an episode. Tokens (B, T, obs) -> actions (B, T, 29)."""
        self.reset()
        return np.stack([self.step(tokens[:, t]) for t in range(tokens.shape[1])], axis=1)
