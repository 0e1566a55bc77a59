"""HME clusters, diversity metrics, balanced sampling weights and the walk/kick check (Humanoid-GPT §3.2).

gstd = exp(mean_j log sigma_j) and log-volume = 0.5 logdet(Sigma + eps I) over an embedding X (N, D);
K-Means on the standardised embedding; sampling weights that give every cluster the same probability and
sequences inside a cluster a probability proportional to their length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans, MiniBatchKMeans

WALK = re.compile(r"walk", re.I)
NOT_WALK = re.compile(r"kick|dance", re.I)  # kick_walk, JazzWalk (a dance) are not walks
KICK = re.compile(r"kick", re.I)
MINIBATCH_ABOVE = 50_000
"""Sequences above which ``method="auto"`` clusters with MiniBatchKMeans (exact K-Means costs N K D per
iteration and restart, and holds all N in memory)."""


def gstd(x: np.ndarray) -> float:
    """Geometric mean of the per-dimension standard deviations of ``x`` (N, D); 0 if one is constant."""
    sigma = np.std(np.asarray(x, dtype=np.float64), axis=0)
    if sigma.size == 0:
        return float("nan")
    if np.any(sigma == 0.0):
        return 0.0
    return float(np.exp(np.mean(np.log(sigma))))


def log_volume(x: np.ndarray, eps: float = 1e-6) -> float:
    """0.5 logdet(Sigma + eps I) of the covariance (population, 1/N) of ``x`` (N, D)."""
    x = np.asarray(x, dtype=np.float64)
    sigma = np.atleast_2d(np.cov(x, rowvar=False, bias=True)) if len(x) > 1 else np.zeros((x.shape[1],) * 2)
    sign, logdet = np.linalg.slogdet(sigma + eps * np.eye(x.shape[1]))
    assert sign > 0, "covariance + eps I must be positive definite"
    return float(0.5 * logdet)


@dataclass(frozen=True)
class Standardizer:
    """Per-dimension z-score fitted on a reference set."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        return cls(x.mean(axis=0), np.maximum(x.std(axis=0), 1e-9))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std


def fit_clusters(
    z_train: np.ndarray, k: int, method: str = "kmeans", seed: int = 0
) -> KMeans | MiniBatchKMeans:
    """K-Means (or MiniBatchKMeans for large corpora) on standardised embeddings; ``k`` is capped at N.

    ``method="auto"``: exact K-Means up to MINIBATCH_ABOVE sequences, MiniBatchKMeans above.
    """
    k = min(k, len(z_train))
    if method == "auto":
        method = "kmeans" if len(z_train) <= MINIBATCH_ABOVE else "minibatch"
    if method == "kmeans":
        model = KMeans(n_clusters=k, n_init=10, random_state=seed)
    elif method == "minibatch":
        model = MiniBatchKMeans(n_clusters=k, n_init=10, random_state=seed, batch_size=4096)
    else:
        raise ValueError(f"unknown clustering method '{method}'; valid: auto, kmeans, minibatch")
    return model.fit(z_train)


def balanced_weights(labels: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sampling probability per sequence: each non-empty cluster 1/K, split inside by length. Sums to 1."""
    labels, lengths = np.asarray(labels), np.asarray(lengths, dtype=np.float64)
    clusters = np.unique(labels)
    w = np.zeros(len(labels))
    for c in clusters:
        m = labels == c
        w[m] = lengths[m] / lengths[m].sum() / len(clusters)
    return w


def co_cluster_rate(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, clips: np.ndarray | None = None
) -> float:
    """Fraction of pairs (i in a, j in b) with the same label, over pairs of different ``clips`` (i != j)."""
    clips = np.arange(len(labels)) if clips is None else np.asarray(clips)
    pairs = clips[a][:, None] != clips[b][None, :]
    same = labels[a][:, None] == labels[b][None, :]
    return float(same[pairs].mean()) if pairs.any() else float("nan")


def category_groups(seqs: list[dict], sources: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Indices of original-speed walking (name has 'walk', not 'kick'/'dance'; of ``sources`` if given) and
    kicking sequences ('kick')."""
    walk, kick = [], []
    for i, s in enumerate(seqs):
        if s["factor"] != 1.0:
            continue
        name = s["clip_id"]
        if WALK.search(name) and not NOT_WALK.search(name) and (not sources or s["source"] in sources):
            walk.append(i)
        elif KICK.search(name):
            kick.append(i)
    return np.array(walk, dtype=int), np.array(kick, dtype=int)


def diversity_table(seqs: list[dict], x: np.ndarray, eps: float) -> list[dict]:
    """gstd and log-volume per source, and for the whole corpus with and without time-warp copies."""
    groups = {
        s: [i for i, q in enumerate(seqs) if q["source"] == s] for s in sorted({q["source"] for q in seqs})
    }
    groups["ALL (originals)"] = [i for i, q in enumerate(seqs) if q["factor"] == 1.0]
    groups["ALL"] = list(range(len(seqs)))
    rows = []
    for name, idx in groups.items():
        xs = x[idx]
        const = np.std(xs, axis=0) == 0.0
        rows.append(
            {
                "group": name,
                "sequences": len(idx),
                "gstd": gstd(xs),
                "gstd_varying": gstd(xs[:, ~const]),
                "constant_dims": int(const.sum()),
                "log_volume": log_volume(xs, eps),
                "rank_deficient": len(idx) <= x.shape[1],
            }
        )
    return rows


CHECK_MAX = 1000
"""Sequences per category in the walk/kick checks (pair matrices are N x N; a seeded subsample above)."""


def _at_most(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``idx`` itself, or a sorted random subset of ``n`` of its elements."""
    return idx if len(idx) <= n else np.sort(rng.choice(idx, size=n, replace=False))


def cluster_checks(
    seqs: list[dict], z: np.ndarray, train: np.ndarray, ks: tuple[int, ...], method: str, seed: int
) -> list[dict]:
    """Co-cluster rates (pairs of different clips) of walks, LAFAN1/GMT walks and kicks at small K, and how
    often a walk's nearest sequence of another clip is a walk."""
    rng = np.random.default_rng(seed)
    walk, kick = (_at_most(g, CHECK_MAX, rng) for g in category_groups(seqs))
    lg = _at_most(category_groups(seqs, ("lafan1", "gmt"))[0], CHECK_MAX, rng)
    clips = np.array([s["clip_id"] for s in seqs])
    d = cdist(z[walk], z[np.r_[walk, kick]])  # (W, W + K)
    d[clips[walk][:, None] == clips[np.r_[walk, kick]][None]] = np.inf
    nearest_walk = (
        float(np.mean(np.argmin(d, axis=1) < len(walk))) if len(walk) and len(kick) else float("nan")
    )
    rows = []
    for k in ks:
        labels = fit_clusters(z[train], k, method, seed).predict(z)
        rows.append(
            {
                "k": k,
                "walks": len(walk),
                "kicks": len(kick),
                "nearest_walk": nearest_walk,
                "walk_walk": co_cluster_rate(labels, walk, walk, clips),
                "lafan_gmt_walk_walk": co_cluster_rate(labels, lg, lg, clips),
                "kick_kick": co_cluster_rate(labels, kick, kick, clips),
                "walk_kick": co_cluster_rate(labels, walk, kick, clips),
            }
        )
    return rows
