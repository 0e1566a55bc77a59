"""Baselines with the same interface as the GPT: single-frame MLP, stacked-history MLP, causal TCN.

All map tokens (B, T, obs_dim) to actions (B, T, act_dim) as the runtime would produce them stepping
through an episode from its first token, and expose ``act_last`` (the exported window graph).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hgpt_policy.config import PolicyConfig
from hgpt_policy.layers import ObsNormalizer


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class MLPPolicy(nn.Module):
    """MLP over one token (``single_frame``) or the last H tokens concatenated (``stacked_history``).

    At the start of an episode the stack is padded with copies of the first token (the robot was
    standing still before it), both here and in the runtime.
    """

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        assert cfg.kind in ("mlp", "mlp_stacked"), cfg.kind
        self.config = cfg
        self.frames = cfg.context_len if cfg.kind == "mlp_stacked" else 1
        self.normalizer = ObsNormalizer(cfg.obs_dim, clip=cfg.obs_clip)
        self.net = _mlp([self.frames * cfg.obs_dim, *cfg.mlp_dims, cfg.act_dim])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, T, obs_dim) from the start of an episode -> actions (B, T, act_dim)."""
        x = self.normalizer(tokens)
        if self.frames > 1:
            b, t, d = x.shape
            pad = x[:, :1].expand(b, self.frames - 1, d)
            x = torch.cat([pad, x], dim=1).unfold(1, self.frames, 1)  # (B, T, d, frames)
            x = x.permute(0, 1, 3, 2).reshape(b, t, self.frames * d)  # oldest frame first
        return self.net(x)

    def rollout(self, tokens: torch.Tensor) -> torch.Tensor:
        """Same as forward: every output depends only on tokens the runtime has seen."""
        return self(tokens)

    def act_last(self, tokens: torch.Tensor) -> torch.Tensor:
        """Window graph: (B, T, obs) -> (B, act_dim); stacked models take exactly T = H (padded)."""
        x = self.normalizer(tokens[:, -self.frames :])
        # keep a length-1 time axis: Linear then exports as MatMul, which int8 quantisation handles
        return self.net(x.reshape(-1, 1, self.frames * self.config.obs_dim))[:, 0]


class _TCNBlock(nn.Module):
    """Residual block: dilated causal conv -> GELU -> 1x1 conv."""

    def __init__(self, ch: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(ch, ch, kernel, dilation=dilation)
        self.mix = nn.Conv1d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T); output t sees inputs t - pad .. t only (left zero padding)."""
        return x + self.mix(F.gelu(self.conv(F.pad(x, (self.pad, 0)))))


class CausalTCN(nn.Module):
    """Dilated causal temporal convolution network over the token sequence.

    Its receptive field (``1 + (k-1) * sum(dilations)``, 31 by default) fits in the H-token window, so the
    last output over a window equals the output at that step of a forward over the whole episode.
    """

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        assert cfg.kind == "tcn", cfg.kind
        self.config = cfg
        self.normalizer = ObsNormalizer(cfg.obs_dim, clip=cfg.obs_clip)
        self.embed = nn.Linear(cfg.obs_dim, cfg.tcn_channels)
        self.blocks = nn.Sequential(
            *(_TCNBlock(cfg.tcn_channels, cfg.tcn_kernel, d) for d in cfg.tcn_dilations)
        )
        self.head = nn.Linear(cfg.tcn_channels, cfg.act_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, T, obs_dim) from the start of an episode -> actions (B, T, act_dim)."""
        x = self.embed(self.normalizer(tokens)).transpose(1, 2)  # (B, C, T)
        return self.head(F.gelu(self.blocks(x)).transpose(1, 2))

    def rollout(self, tokens: torch.Tensor) -> torch.Tensor:
        return self(tokens)

    def act_last(self, tokens: torch.Tensor) -> torch.Tensor:
        """Window graph: (B, T<=H, obs) -> (B, act_dim)."""
        return self(tokens)[:, -1]
