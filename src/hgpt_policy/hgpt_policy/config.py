"""Policy architecture configuration: one frozen dataclass for every kind, plus the paper's S/B/L presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.obs import DEPLOY_OBS_TERMS, obs_size

KINDS = ("gpt", "mlp", "mlp_stacked", "tcn")
"""Policy kinds: the Transformer and three baselines (single-frame MLP, stacked-history MLP, causal TCN)."""
SEMANTICS = {
    "gpt": ("window", "sliding_kv"),
    "mlp": ("single_frame",),
    "mlp_stacked": ("stacked_history",),
    "tcn": ("window",),
}
"""Inference semantics each kind supports (names of ``hgpt_core.policy_meta.INFERENCE_MODES``)."""


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture of a tracking policy; stored as ``PolicyMetadata.arch`` via :meth:`to_dict`."""

    kind: str = "gpt"
    """One of :data:`KINDS`."""
    inference: str = "window"
    """How history is consumed, one of ``SEMANTICS[kind]``; fixed for training and deployment alike."""
    obs_dim: int = obs_size(DEPLOY_OBS_TERMS)
    """Token size (161 for the deployable token)."""
    act_dim: int = NUM_JOINTS
    """Raw action size (29)."""
    context_len: int = 32
    """History H in tokens: GPT window / attention band, stacked frames, TCN window."""
    n_layer: int = 12
    """GPT: number of blocks."""
    n_embd: int = 256
    """GPT: width."""
    n_head: int = 4
    """GPT: attention heads (head_dim = n_embd / n_head)."""
    mlp_hidden: int = 400
    """GPT: hidden units of each block's MLP."""
    dropout: float = 0.0
    """GPT: dropout on attention and residual paths (training only)."""
    rope_base: float = 10000.0
    """GPT: RoPE frequency base."""
    mlp_dims: tuple[int, ...] = (512, 256, 128)
    """MLP baselines: hidden layer sizes (ELU), as the paper's experts."""
    tcn_channels: int = 128
    """TCN: channels."""
    tcn_kernel: int = 3
    """TCN: kernel size of each dilated causal convolution."""
    tcn_dilations: tuple[int, ...] = (1, 2, 4, 8)
    """TCN: one residual block per dilation; the receptive field must not exceed context_len."""
    obs_clip: float = 10.0
    """Normalised tokens are clipped to +-obs_clip (0 disables)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"policy kind '{self.kind}' not one of {KINDS}")
        if self.inference not in SEMANTICS[self.kind]:
            raise ValueError(
                f"inference '{self.inference}' not supported by kind '{self.kind}'; "
                f"valid: {SEMANTICS[self.kind]}"
            )
        if self.kind == "gpt" and (self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2):
            raise ValueError(f"n_embd {self.n_embd} must split into n_head {self.n_head} heads of even size")
        if self.kind == "tcn" and self.receptive_field > self.context_len:
            raise ValueError(
                f"TCN receptive field {self.receptive_field} exceeds context_len {self.context_len}"
            )
        if self.context_len < 1:
            raise ValueError(f"context_len {self.context_len} < 1")

    @property
    def receptive_field(self) -> int:
        """TCN: tokens that influence one output."""
        return 1 + (self.tcn_kernel - 1) * sum(self.tcn_dilations)

    @property
    def history_len(self) -> int:
        """Tokens the deployed policy reads (``PolicyMetadata.context_len``): 1 for single-frame MLPs."""
        return 1 if self.inference == "single_frame" else self.context_len

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PolicyConfig:
        """Inverse of :meth:`to_dict`; raises ValueError on unknown fields."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(f"unknown PolicyConfig fields {unknown}; valid: {sorted(known)}")
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kwargs)


# The paper's sizes (supplementary Table 4: 12 layers, width 256/384/768). MLP widths are chosen so the
# parameter counts match the paper's 5.7M / 22.1M / 80.4M.
GPT_SIZES: dict[str, dict[str, int]] = {
    "S": {"n_embd": 256, "n_head": 4, "mlp_hidden": 400},
    "B": {"n_embd": 384, "n_head": 6, "mlp_hidden": 1616},
    "L": {"n_embd": 768, "n_head": 12, "mlp_hidden": 2816},
}
PAPER_PARAMS = {"S": 5.7e6, "B": 22.1e6, "L": 80.4e6}


def gpt_config(size: str = "S", inference: str = "window", **overrides: Any) -> PolicyConfig:
    """Humanoid-GPT-S/B/L with the given semantics; ``overrides`` change any other field."""
    if size not in GPT_SIZES:
        raise ValueError(f"GPT size '{size}' not one of {sorted(GPT_SIZES)}")
    return PolicyConfig(kind="gpt", inference=inference, **{**GPT_SIZES[size], **overrides})


def baseline_config(kind: str, **overrides: Any) -> PolicyConfig:
    """A baseline (``mlp``, ``mlp_stacked`` or ``tcn``) with its only semantics."""
    if kind not in ("mlp", "mlp_stacked", "tcn"):
        raise ValueError(f"baseline kind '{kind}' not one of ('mlp', 'mlp_stacked', 'tcn')")
    return PolicyConfig(kind=kind, inference=SEMANTICS[kind][0], **overrides)


def arch_differences(meta: Any) -> list[str]:
    """Inconsistencies between a ``PolicyMetadata`` and the architecture it records (empty = consistent)."""
    try:
        cfg = PolicyConfig.from_dict(dict(meta.arch))
    except (TypeError, ValueError) as exc:
        return [f"arch is not a valid PolicyConfig: {exc}"]
    out = []
    if meta.inference != cfg.inference:
        out.append(f"inference '{meta.inference}' but the architecture was built for '{cfg.inference}'")
    if meta.context_len != cfg.history_len:
        out.append(f"context_len {meta.context_len} but the architecture reads {cfg.history_len} tokens")
    if meta.obs_size != cfg.obs_dim:
        out.append(f"obs_terms sum to {meta.obs_size} numbers but the architecture takes {cfg.obs_dim}")
    if len(meta.joint_names) != cfg.act_dim:
        out.append(f"{len(meta.joint_names)} joint_names but the architecture outputs {cfg.act_dim} actions")
    return out
