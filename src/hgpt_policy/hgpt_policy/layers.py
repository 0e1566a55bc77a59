"""Building blocks shared by every policy: the input normaliser and rotary position embeddings."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ObsNormalizer(nn.Module):
    """Running mean/std of the token, applied as ``clip((x - mean) / (std + eps), -clip, clip)``.

    The statistics are buffers (saved in the checkpoint). :meth:`update` merges a batch of tokens while
    the module is in training mode and not frozen; export and deployment only read them, so the exported
    graph holds them as constants. ``clip <= 0`` disables clipping.
    """

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor
    frozen: torch.Tensor

    def __init__(self, dim: int, clip: float = 10.0, eps: float = 1e-2) -> None:
        super().__init__()
        self.dim, self.clip, self.eps = dim, float(clip), float(eps)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("frozen", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge the statistics of ``x`` (shape (..., dim)) with Chan's parallel algorithm (float64)."""
        if not self.training or bool(self.frozen):
            return
        x = x.detach().reshape(-1, self.dim).to(torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        a_mean, a_var, a_n = self.mean.double(), self.var.double(), self.count
        tot = a_n + n
        delta = b_mean - a_mean
        mean = a_mean + delta * (n / tot)
        m2 = a_var * a_n + b_var * n + delta.square() * (a_n * n / tot)
        self.mean.copy_(mean.float())
        self.var.copy_((m2 / tot).float())
        self.count.fill_(tot)

    def freeze(self) -> None:
        """Stop :meth:`update` for good (saved with the checkpoint)."""
        self.frozen.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: (..., dim) -> (..., dim)."""
        y = (x - self.mean) / (self.var.sqrt() + self.eps)
        return y.clamp(-self.clip, self.clip) if self.clip > 0 else y


class RotaryEmbedding(nn.Module):
    """RoPE (Su et al. 2021, rotate-half form of GPT-NeoX) with float64-exact angles at any position.

    ``cos(p * f)`` in float32 loses accuracy once ``p`` is large (at p = 1e5 the angle's ulp is ~0.008 rad),
    which a KV cache that runs for hours reaches. Positions are split as ``p = hi * R + lo`` and the
    rotation composed from two tables computed in float64 (angle addition), so every position up to
    ``R**2`` is accurate to float32 rounding. The tables are derived, not saved (non-persistent buffers).
    """

    rot_half: torch.Tensor
    eye: torch.Tensor
    cos_lo: torch.Tensor
    sin_lo: torch.Tensor
    cos_hi: torch.Tensor
    sin_hi: torch.Tensor

    def __init__(self, head_dim: int, base: float = 10000.0, radix: int = 2048) -> None:
        super().__init__()
        assert head_dim % 2 == 0, head_dim
        self.radix = radix
        self.max_position = radix * radix
        inv_freq = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
        inv_freq = np.concatenate([inv_freq, inv_freq])  # (hd,): rotate-half pairs i and i + hd/2
        lo = np.arange(radix, dtype=np.float64)[:, None] * inv_freq
        hi = (np.arange(radix, dtype=np.float64) * radix)[:, None] * inv_freq
        h = head_dim // 2
        rot = np.zeros((head_dim, head_dim), np.float32)  # rotate_half(x) == x @ rot
        rot[np.arange(h) + h, np.arange(h)] = -1.0
        rot[np.arange(h), np.arange(h) + h] = 1.0
        self.register_buffer("rot_half", torch.from_numpy(rot), persistent=False)
        self.register_buffer("eye", torch.eye(head_dim), persistent=False)
        for name, ang in (("lo", lo), ("hi", hi)):
            self.register_buffer(f"cos_{name}", torch.from_numpy(np.cos(ang)).float(), persistent=False)
            self.register_buffer(f"sin_{name}", torch.from_numpy(np.sin(ang)).float(), persistent=False)

    def first(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin for positions 0..n-1 (n <= radix). Shape: (n, head_dim) each."""
        return self.cos_lo[:n], self.sin_lo[:n]

    def at(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin for integer positions ``pos`` (< max_position). Shape: (*pos.shape, head_dim) each."""
        hi, lo = pos // self.radix, pos % self.radix
        ch, sh, cl, sl = self.cos_hi[hi], self.sin_hi[hi], self.cos_lo[lo], self.sin_lo[lo]
        return ch * cl - sh * sl, sh * cl + ch * sl

    def rotation(self, pos: torch.Tensor) -> torch.Tensor:
        """RoPE as matrices: ``apply_rope(x, *at(pos)) == x @ rotation(pos)``. Shape: (*pos.shape, hd, hd).

        One small MatMul per rotated vector instead of slice/negate/concat/multiply/add: fewer ops
        in the one-token KV graph, where op count rather than arithmetic sets the latency."""
        cos, sin = self.at(pos)
        return self.eye * cos[..., None, :] + self.rot_half * sin[..., None, :]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` (..., head_dim) by the angles whose cos/sin broadcast against it."""
    return x * cos + rotate_half(x) * sin


def rope_rotate(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rot_half: torch.Tensor
) -> torch.Tensor:
    """:func:`apply_rope` with rotate_half as a product with the constant ``RotaryEmbedding.rot_half``:
    one MatMul in the exported graph instead of slice/slice/negate/concat."""
    return x * cos + (x @ rot_half) * sin
