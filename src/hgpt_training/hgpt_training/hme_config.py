"""HME run types: :class:`HMEConfig` (``hgpt corpus hme`` options) and :class:`HMEResult` (what
:func:`hgpt_training.hme_report.run_hme` computed; :mod:`hgpt_training.hme_plots` renders it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from hgpt_training.hme import PAEConfig


@dataclass(frozen=True)
class HMEConfig:
    """HME training, clustering and report."""

    corpus: Path = Path("outputs/corpus")
    """A built corpus (hgpt corpus build)."""
    out: Path | None = None
    """Output folder (default: <corpus>/hme)."""
    pae: PAEConfig = field(default_factory=PAEConfig)
    segment_s: float = 10.0
    """Longest HME sequence [s]; longer entries are cut into near-equal segments."""
    clusters: int = 16
    """K of K-Means (the paper uses ~384 on 2B frames)."""
    method: Literal["auto", "kmeans", "minibatch"] = "auto"
    """K-Means variant; auto = exact K-Means up to 50k training sequences, MiniBatchKMeans above."""
    check_ks: tuple[int, ...] = (2, 4, 8, 16)
    """K values at which the report checks that walks cluster together, apart from kicks."""
    embed_stride: int = 16
    """Frames between embedded windows."""
    eps: float = 1e-6
    """Floor added to the covariance in the log-volume."""
    seed: int = 0
    """Seed of the autoencoder (init, windows) and of K-Means."""
    progress: bool = True


@dataclass
class HMEResult:
    seqs: list[dict]  # entry fields + start, stop (frames), seq_id
    x: np.ndarray  # (S, D) raw HME vectors
    z: np.ndarray  # (S, D) standardised on train
    labels: np.ndarray  # (S,)
    weights: np.ndarray  # (S,) balanced sampling probability (train sequences; 0 elsewhere)
    diversity: list[dict]
    checks: list[dict]
    losses: list[float]
    seconds: float
    out: Path
