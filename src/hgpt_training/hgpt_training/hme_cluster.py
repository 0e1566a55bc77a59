"""HME clusters, diversity metrics and balanced sampling weights (Humanoid-GPT §3.2).

gstd = exp(mean_j log sigma_j) and log-volume = 0.5 logdet(Sigma + eps I) over an embedding X (N, D);
K-Means on the standardised embedding; sampling weights that give every cluster the same probability and
clips inside a cluster a probability proportional to their length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans


def gstd(x: np.ndarray) -> float:
    """Geometric mean of the per-dimension standard deviations of ``x`` (N, D); 0 if one is constant."""
    sigma = np.std(np.asarray(x, dtype=np.float64), axis=0)
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
    """K-Means (or MiniBatchKMeans for large corpora) on standardised embeddings; ``k`` is capped at N."""
    k = min(k, len(z_train))
    if method == "kmeans":
        model = KMeans(n_clusters=k, n_init=10, random_state=seed)
    elif method == "minibatch":
        model = MiniBatchKMeans(n_clusters=k, n_init=10, random_state=seed, batch_size=4096)
    else:
        raise ValueError(f"unknown clustering method '{method}'; valid: kmeans, minibatch")
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


def co_cluster_rate(labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pairs (i in a, j in b, i != j) with the same label; a, b are index arrays."""
    same = total = 0
    for i in a:
        for j in b:
            if i != j:
                same += labels[i] == labels[j]
                total += 1
    return same / total if total else float("nan")
