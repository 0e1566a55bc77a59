"""Harmonic Motion Embedding (HME): a periodic autoencoder (DeepPhase, Starke et al. 2022) on motion windows.

Conv encoder -> M latent channels -> FFT per channel -> amplitude, frequency, offset (+ phase from a learned
projection) -> each channel rebuilt as ``A sin(2 pi (f t - phase)) + offset`` -> conv decoder -> input.
One latent channel per body joint (plus a few for the root): the per-window amplitude A and frequency f of
every channel, as (A, A f), averaged (mean and std) over a sequence's windows, is the sequence's HME vector
(Humanoid-GPT §3.2: per-joint amplitude and frequency, mean/std per sequence). Training checkpoints every
epoch and resumes.
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

from hgpt_core.corpus_store import CorpusReader
from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_core.motion import atomic_write_bytes
from hgpt_core.rotations import quat_apply_inv, yaw_quat

FEATURE_FIELDS = ("root_pos", "root_quat", "joint_pos", "root_lin_vel", "root_ang_vel", "joint_vel")
# Wrists are left out: the 23-DoF sources (GMT, PBHC, ASAP) store none, and zeros there would make the
# embedding tell sources apart instead of motions.
BODY_JOINTS = np.array([i for i, n in enumerate(G1_JOINT_NAMES) if "wrist" not in n])
ROOT_FEATURES = 1 + 3 + 3
NUM_FEATURES = 2 * len(BODY_JOINTS) + ROOT_FEATURES


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
    root_channels: int = 3
    """Latent channels of the root terms; each of the 23 body joints has one more."""
    joint_hidden: int = 4
    """Hidden channels per joint in the joint encoder."""
    hidden: int = 32
    """Hidden channels of the root encoder and of the decoder."""
    kernel: int = 9
    """Odd; the encoder sees kernel - 1 frames of context on each side of the window."""
    epochs: int = 20
    batch: int = 64
    lr: float = 1e-3
    steps_per_epoch: int = 50
    """Batches per epoch (and per checkpoint); 0 = one pass: (train frames) / (window * batch)."""


class GroupConv1d(nn.Module):
    """Conv1d with ``groups`` independent groups as unfold + batched matmul.

    Same maths as ``nn.Conv1d(groups=...)``; on these CPUs oneDNN's grouped (and small dense) convolutions
    ran 5-10x slower than this for the shapes of the PAE, backward included.
    Shape: (B, groups * cin, T) -> (B, groups * cout, T - kernel + 1 + 2 * padding).
    """

    def __init__(self, groups: int, cin: int, cout: int, kernel: int, padding: int = 0):
        super().__init__()
        bound = 1.0 / math.sqrt(cin * kernel)  # nn.Conv1d's default init range
        self.weight = nn.Parameter(torch.empty(groups, cin * kernel, cout).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, 1, cout).uniform_(-bound, bound))
        self.groups, self.cin, self.kernel, self.padding = groups, cin, kernel, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape
        g, c, k = self.groups, self.cin, self.kernel
        if self.padding:
            x = nn.functional.pad(x, (self.padding, self.padding))
            t += 2 * self.padding
        cols = x.reshape(b, g, c, t).unfold(3, k, 1)  # (B, G, C, T', K)
        cols = cols.permute(1, 0, 3, 2, 4).reshape(g, b * (t - k + 1), c * k)
        y = torch.bmm(cols, self.weight) + self.bias  # (G, B*T', cout)
        return y.reshape(g, b, t - k + 1, -1).permute(1, 0, 3, 2).reshape(b, -1, t - k + 1)


class PeriodicAutoencoder(nn.Module):
    """DeepPhase-style PAE on windows of ``window`` frames at ``fps``, one latent channel per body joint.

    Each joint's latent channel is encoded from that joint's angle and speed only (grouped convolutions),
    so its amplitude and frequency are the joint's harmonic features; ``root_channels`` more latent channels
    encode the root terms. The decoder mixes all channels. The encoder uses unpadded convolutions: it maps
    ``window + 2 * context`` input frames to ``window`` latent frames, so a latent frame depends on real
    neighbouring frames only and one pass over a whole sequence gives exactly every window's latent.
    """

    pairs: torch.Tensor
    freqs: torch.Tensor
    time: torch.Tensor

    def __init__(self, in_channels: int, cfg: PAEConfig, fps: float):
        super().__init__()
        if cfg.kernel % 2 != 1:
            raise ValueError(f"kernel must be odd, got {cfg.kernel}")
        j, r, h, k, t = len(BODY_JOINTS), cfg.root_channels, cfg.hidden, cfg.kernel, cfg.window
        jh = cfg.joint_hidden
        assert in_channels == 2 * j + ROOT_FEATURES
        m = j + r
        # Feature order is (23 angles, 23 speeds, root); the grouped convolution wants (angle, speed) pairs.
        self.register_buffer("pairs", torch.arange(2 * j).reshape(2, j).T.reshape(-1))
        self.joint_encoder = nn.Sequential(GroupConv1d(j, 2, jh, k), nn.ELU(), GroupConv1d(j, jh, 1, k))
        self.root_encoder = nn.Sequential(
            GroupConv1d(1, ROOT_FEATURES, h, k), nn.ELU(), GroupConv1d(1, h, r, k)
        )
        pad = k // 2
        self.decoder = nn.Sequential(
            GroupConv1d(1, m, h, k, pad), nn.ELU(), GroupConv1d(1, h, in_channels, k, pad)
        )
        self.phase_w = nn.Parameter(torch.randn(m, t, 2) / math.sqrt(t))  # per-channel linear T -> (sx, sy)
        self.phase_b = nn.Parameter(torch.zeros(m, 2))
        self.register_buffer("freqs", torch.fft.rfftfreq(t, d=1.0 / fps)[1:].float())  # (T//2,) [Hz], no DC
        self.register_buffer("time", ((torch.arange(t) - (t - 1) / 2) / fps).float())  # (T,) [s]
        self.window, self.context, self.latent_channels = t, k - 1, m

    def encoder(self, x: torch.Tensor) -> torch.Tensor:
        """Latent (B, 23 + root_channels, T - 2 context) of features x (B, C, T)."""
        j2 = len(self.pairs)
        return torch.cat([self.joint_encoder(x[:, self.pairs]), self.root_encoder(x[:, j2:])], dim=1)

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
        f_mean, f_std = feature_stats(reader)  # numpy; the training's tensors are made from the state
        state = {
            "key": key,
            "epoch": 0,
            "losses": [],
            "mean": f_mean,
            "std": f_std,
            "model": None,
            "optim": None,
        }
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


def segments(lengths: np.ndarray, max_frames: int) -> list[tuple[int, int, int]]:
    """Split entries into near-equal segments of at most ``max_frames`` frames: (entry, start, stop) each.

    The HME sequence unit: a 4-minute LAFAN1 take (walking, turning, stopping) would otherwise be one
    averaged vector, unlike any 5-second clip of the same motion.
    """
    out = []
    for i, n in enumerate(int(x) for x in lengths):
        k = max(1, -(-n // max_frames))
        bounds = np.linspace(0, n, k + 1).round().astype(int)
        out += [(i, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return out


@torch.no_grad()
def embed_segments(
    model: PeriodicAutoencoder,
    state: dict,
    reader: CorpusReader,
    segs: list[tuple[int, int, int]],
    stride: int = 16,
) -> np.ndarray:
    """HME vector of every segment: mean and std over its windows of (A, A f) per channel. Shape: (S, 4M).

    A f (amplitude x frequency) is the frequency weighted by how much the joint moves: a joint at rest has an
    undefined frequency (the FFT of noise), which made walks and kicks mix in the clustering check
    (docs/corpus.md). One encoder pass per entry (edge-padded by the context and, if shorter, to one window);
    a segment averages the windows, ``stride`` frames apart, that start inside it (at least one).
    """
    mean, std = torch.from_numpy(state["mean"]), torch.from_numpy(state["std"])
    w, c = model.window, model.context
    by_entry: dict[int, list[int]] = {}
    for k, (i, _, _) in enumerate(segs):
        by_entry.setdefault(i, []).append(k)
    out = np.zeros((len(segs), 4 * model.latent_channels))
    for i, ks in by_entry.items():
        f = motion_features(reader.frames(i))  # (T, C)
        f = np.concatenate([np.repeat(f[:1], c, 0), f, np.repeat(f[-1:], c + max(0, w - len(f)), 0)])
        z = model.encoder(((torch.from_numpy(f) - mean) / std).T[None])[0]  # (M, max(T, w))
        starts = torch.arange(0, z.shape[1] - w + 1, stride)
        p = model.periodic(z.unfold(1, w, 1)[:, starts].transpose(0, 1))  # windows (N, M, w)
        h = torch.cat([p["amp"], p["amp"] * p["freq"]], dim=1).numpy()  # (N, 2M)
        for k in ks:
            _, a, b = segs[k]
            sel = (starts.numpy() >= a) & (starts.numpy() < max(a + 1, b - w + 1))
            hs = h[sel] if sel.any() else h[np.abs(starts.numpy() - a).argmin()][None]
            out[k] = np.concatenate([hs.mean(0), hs.std(0)])
    return out
