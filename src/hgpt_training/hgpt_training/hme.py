"""Harmonic Motion Embedding (HME): a periodic autoencoder (DeepPhase, Starke et al. 2022) on motion windows.

Conv encoder -> M latent channels -> FFT per channel -> amplitude, frequency, offset (+ phase from a learned
projection) -> each channel rebuilt as ``A sin(2 pi (f t - phase)) + offset`` -> conv decoder -> input.
The per-window amplitude and frequency of every channel, averaged (mean and std) over a sequence's windows,
is the sequence's HME vector (Humanoid-GPT §3.2). Training checkpoints every epoch and resumes.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_core.motion import atomic_write_bytes
from hgpt_core.rotations import quat_apply_inv, yaw_quat
from hgpt_training.corpus_store import CorpusReader

FEATURE_FIELDS = ("root_pos", "root_quat", "joint_pos", "root_lin_vel", "root_ang_vel", "joint_vel")
# Wrists are left out: the 23-DoF sources (GMT, PBHC, ASAP) store none, and zeros there would make the
# embedding tell sources apart instead of motions.
BODY_JOINTS = np.array([i for i, n in enumerate(G1_JOINT_NAMES) if "wrist" not in n])
NUM_FEATURES = 2 * len(BODY_JOINTS) + 1 + 3 + 3


def motion_features(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Per-frame input of the autoencoder: 23 joint pos, 23 joint vel (no wrists), root height, root linear
    velocity in the heading frame, root angular velocity in the pelvis frame. Shape: (..., T, 53)."""
    quat = cols["root_quat"].astype(np.float64)
    lin_h = quat_apply_inv(yaw_quat(quat), cols["root_lin_vel"].astype(np.float64))
    ang_b = quat_apply_inv(quat, cols["root_ang_vel"].astype(np.float64))
    jp, jv = cols["joint_pos"][..., BODY_JOINTS], cols["joint_vel"][..., BODY_JOINTS]
    parts = (jp, jv, cols["root_pos"][..., 2:3], lin_h, ang_b)
    return np.concatenate([np.asarray(p, np.float32) for p in parts], axis=-1)


@dataclass(frozen=True)
class PAEConfig:
    """Periodic autoencoder and its training."""

    window: int = 64
    """Frames per window (1.28 s at 50 Hz)."""
    latent_channels: int = 8
    hidden: int = 32
    kernel: int = 9
    """Odd; the encoder sees ``kernel - 1`` frames of context on each side of the window."""
    epochs: int = 20
    batch: int = 64
    lr: float = 1e-3
    steps_per_epoch: int = 50
    """Batches per epoch (and per checkpoint); 0 = one pass: (train frames) / (window * batch)."""


class PeriodicAutoencoder(nn.Module):
    """DeepPhase-style PAE on windows of ``window`` frames at ``fps``.

    The encoder uses unpadded convolutions: it maps ``window + 2 * context`` input frames to ``window`` latent
    frames. A latent frame thus depends on real neighbouring frames only, so one encoder pass over a whole
    sequence gives exactly the latent of every window in it (see :func:`embed_entries`).
    """

    def __init__(self, in_channels: int, cfg: PAEConfig, fps: float):
        super().__init__()
        if cfg.kernel % 2 != 1:
            raise ValueError(f"kernel must be odd, got {cfg.kernel}")
        m, h, k, t = cfg.latent_channels, cfg.hidden, cfg.kernel, cfg.window
        self.encoder = nn.Sequential(nn.Conv1d(in_channels, h, k), nn.ELU(), nn.Conv1d(h, m, k))
        self.decoder = nn.Sequential(
            nn.Conv1d(m, h, k, padding=k // 2), nn.ELU(), nn.Conv1d(h, in_channels, k, padding=k // 2)
        )
        self.phase_w = nn.Parameter(torch.randn(m, t, 2) / math.sqrt(t))  # per-channel linear T -> (sx, sy)
        self.phase_b = nn.Parameter(torch.zeros(m, 2))
        self.register_buffer("freqs", torch.fft.rfftfreq(t, d=1.0 / fps)[1:].float())  # (T//2,) [Hz]
        self.register_buffer("time", ((torch.arange(t) - (t - 1) / 2) / fps).float())  # (T,) [s]
        self.window, self.context = t, k - 1

    def periodic(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Amplitude, frequency [Hz], phase [cycles], offset of latent windows z (B, M, T). Shape: (B, M)."""
        spec = torch.fft.rfft(z, dim=-1)  # (B, M, T//2+1)
        power = spec.real[..., 1:] ** 2 + spec.imag[..., 1:] ** 2  # (B, M, T//2), DC excluded
        total = power.sum(-1)
        freq = (power * self.freqs).sum(-1) / (total + 1e-8)
        amp = 2.0 * torch.sqrt(total + 1e-12) / self.window
        offset = spec.real[..., 0] / self.window
        sxy = torch.einsum("bmt,mtk->bmk", z, self.phase_w) + self.phase_b  # (B, M, 2)
        phase = torch.atan2(sxy[..., 1], sxy[..., 0]) / (2 * math.pi)
        return {"amp": amp, "freq": freq, "phase": phase, "offset": offset}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """x (B, C, window + 2 context) -> reconstruction of the central window (B, C, window), parameters."""
        p = self.periodic(self.encoder(x))
        arg = 2 * math.pi * (p["freq"][..., None] * self.time - p["phase"][..., None])  # (B, M, T)
        latent = p["amp"][..., None] * torch.sin(arg) + p["offset"][..., None]
        return self.decoder(latent), p


def feature_stats(reader: CorpusReader, max_frames: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the features over (an even subsample of) the reader's frames. Shape: (C,) each."""
    step = max(1, int(reader.lengths.sum()) // max_frames)
    feats = [motion_features({k: v[::step] for k, v in reader.frames(i).items()}) for i in range(len(reader))]
    f = np.concatenate(feats).astype(np.float64)
    return f.mean(0).astype(np.float32), np.maximum(f.std(0), 1e-3).astype(np.float32)


def _config_hash(cfg: PAEConfig, seed: int, entries: list[str]) -> str:
    return hashlib.sha1(json.dumps([asdict(cfg), seed, entries]).encode()).hexdigest()


def _save(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def train_pae(
    reader: CorpusReader, cfg: PAEConfig, ckpt: Path, seed: int = 0, progress: bool = True
) -> tuple[PeriodicAutoencoder, dict]:
    """Train (or resume, or just load when finished) the PAE on random windows of ``reader``.

    Epoch e draws its windows from ``default_rng([seed, e])`` and seeds torch with (seed, e), so a resumed
    run equals an uninterrupted one. Returns the model and the checkpoint state (mean, std, losses, ...).
    """
    key = _config_hash(cfg, seed, [e["entry_id"] for e in reader.entries])
    state = torch.load(ckpt, weights_only=False) if ckpt.is_file() else None
    if state is not None and state["key"] != key:
        state = None  # other data or settings: start over
    if state is None:
        mean, std = feature_stats(reader)
        state = {"key": key, "epoch": 0, "losses": [], "mean": mean, "std": std, "model": None, "optim": None}
    torch.manual_seed(seed)
    model = PeriodicAutoencoder(NUM_FEATURES, cfg, reader.fps)
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    if state["model"] is not None:
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
    mean, std = torch.from_numpy(state["mean"]), torch.from_numpy(state["std"])
    c, span = model.context, cfg.window + 2 * model.context
    steps = cfg.steps_per_epoch or max(1, int(reader.lengths.sum()) // (cfg.window * cfg.batch))
    bar = tqdm(
        range(state["epoch"], cfg.epochs),
        desc="HME epochs",
        disable=not progress,
        initial=state["epoch"],
        total=cfg.epochs,
    )
    for epoch in bar:
        rng = np.random.default_rng([seed, epoch])
        torch.manual_seed(seed * 100_003 + epoch)
        total = 0.0
        for _ in range(steps):
            x = (torch.from_numpy(motion_features(reader.sample(cfg.batch, span, rng))) - mean) / std
            x = x.transpose(1, 2)  # (B, C, window + 2 context)
            y, _ = model(x)
            loss = torch.mean((y - x[..., c:-c]) ** 2)
            optim.zero_grad()
            loss.backward()
            optim.step()
            total += loss.item()
        state.update(epoch=epoch + 1, model=model.state_dict(), optim=optim.state_dict())
        state["losses"] = [*state["losses"], total / steps]
        bar.set_postfix(loss=f"{total / steps:.4f}")
        _save(ckpt, state)
    model.eval()
    return model, state


@torch.no_grad()
def embed_entries(
    model: PeriodicAutoencoder, state: dict, reader: CorpusReader, stride: int = 16
) -> np.ndarray:
    """HME vector of every entry: [mean amp, mean freq, std amp, std freq] over its windows. Shape: (N, 4M).

    One encoder pass per entry (edge-padded by the context and, if shorter, to one window), then the periodic
    parameters of windows ``stride`` frames apart.
    """
    mean, std = torch.from_numpy(state["mean"]), torch.from_numpy(state["std"])
    w, c = model.window, model.context
    out = []
    for i in range(len(reader)):
        f = motion_features(reader.frames(i))  # (T, C)
        f = np.concatenate([np.repeat(f[:1], c, 0), f, np.repeat(f[-1:], c + max(0, w - len(f)), 0)])
        x = ((torch.from_numpy(f) - mean) / std).T[None]  # (1, C, T + 2c)
        z = model.encoder(x)[0]  # (M, T)
        starts = torch.arange(0, z.shape[1] - w + 1, stride)
        windows = z.unfold(1, w, 1)[:, starts].transpose(0, 1)  # (N, M, w)
        p = model.periodic(windows)
        af = torch.cat([p["amp"], p["freq"]], dim=1)  # (N, 2M)
        out.append(torch.cat([af.mean(0), af.std(0, unbiased=False)]).numpy())
    return np.stack(out).astype(np.float64)
