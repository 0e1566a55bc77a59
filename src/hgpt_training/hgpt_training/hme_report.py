"""``hgpt-corpus hme`` / ``all``: train the HME autoencoder on a built corpus, embed, cluster, report.

Reads top to bottom: HMEConfig, setup (reader), PAE training (checkpointed), embedding, clustering, weights,
files (embedding.npz, clusters.json) and the report (report.md + PNGs, :mod:`hgpt_training.hme_plots`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from hgpt_core.motion import atomic_write_bytes
from hgpt_training.corpus import CorpusConfig, build, print_summary
from hgpt_training.corpus_store import CorpusReader
from hgpt_training.hme import FEATURE_FIELDS, PAEConfig, embed_entries, train_pae
from hgpt_training.hme_cluster import (
    Standardizer,
    balanced_weights,
    co_cluster_rate,
    fit_clusters,
    gstd,
    log_volume,
)

WALK = re.compile(r"walk", re.I)
KICK = re.compile(r"kick", re.I)


@dataclass(frozen=True)
class HMEConfig:
    """HME training, clustering and report."""

    corpus: Path = Path("outputs/corpus")
    """A built corpus (hgpt-corpus build)."""
    out: Path | None = None
    """Output folder (default: <corpus>/hme)."""
    pae: PAEConfig = field(default_factory=PAEConfig)
    clusters: int = 16
    """K of K-Means (the paper uses ~384 on 2B frames)."""
    method: Literal["kmeans", "minibatch"] = "kmeans"
    check_ks: tuple[int, ...] = (2, 4, 8)
    """Small K values at which the report checks that walks cluster together, apart from kicks."""
    embed_stride: int = 16
    """Frames between embedded windows."""
    eps: float = 1e-6
    """Floor added to the covariance in the log-volume."""
    seed: int = 0
    """Seed of the autoencoder (init, windows) and of K-Means."""
    progress: bool = True


@dataclass
class HMEResult:
    entries: list[dict]
    x: np.ndarray  # (N, D) raw HME vectors
    z: np.ndarray  # (N, D) standardised on train
    labels: np.ndarray  # (N,)
    weights: np.ndarray  # (N,) balanced sampling probability (train entries; 0 elsewhere)
    diversity: list[dict]
    checks: list[dict]
    losses: list[float]
    seconds: float
    out: Path


def category_groups(entries: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of original-speed walking clips (name has 'walk', not 'kick') and kicking clips ('kick')."""
    names = [e["clip_id"] for e in entries]
    orig = [e["factor"] == 1.0 for e in entries]
    walk = [i for i, n in enumerate(names) if orig[i] and WALK.search(n) and not KICK.search(n)]
    kick = [i for i, n in enumerate(names) if orig[i] and KICK.search(n)]
    return np.array(walk, dtype=int), np.array(kick, dtype=int)


def diversity_table(entries: list[dict], x: np.ndarray, eps: float) -> list[dict]:
    """gstd and log-volume per source, and for the whole corpus with and without time-warp copies."""
    rows = []
    groups = {
        s: [i for i, e in enumerate(entries) if e["source"] == s]
        for s in sorted({e["source"] for e in entries})
    }
    groups["ALL (originals)"] = [i for i, e in enumerate(entries) if e["factor"] == 1.0]
    groups["ALL"] = list(range(len(entries)))
    for name, idx in groups.items():
        if idx:
            xs = x[idx]
            rows.append(
                {
                    "group": name,
                    "entries": len(idx),
                    "gstd": gstd(xs),
                    "log_volume": log_volume(xs, eps),
                    "rank_deficient": len(idx) <= x.shape[1],
                }
            )
    return rows


def cluster_checks(
    entries: list[dict], z: np.ndarray, train: np.ndarray, ks: tuple[int, ...], method: str, seed: int
) -> list[dict]:
    """Co-cluster rates of walk-walk, kick-kick and walk-kick clip pairs at small K."""
    walk, kick = category_groups(entries)
    rows = []
    for k in ks:
        labels = fit_clusters(z[train], k, method, seed).predict(z)
        rows.append(
            {
                "k": k,
                "walks": len(walk),
                "kicks": len(kick),
                "walk_walk": co_cluster_rate(labels, walk, walk),
                "kick_kick": co_cluster_rate(labels, kick, kick),
                "walk_kick": co_cluster_rate(labels, walk, kick),
            }
        )
    return rows


def run_hme(cfg: HMEConfig) -> HMEResult:
    """Train (or resume) the PAE, embed every accepted entry, cluster, weigh, write files and the report."""
    t0 = time.perf_counter()
    out = Path(cfg.out or Path(cfg.corpus) / "hme")
    out.mkdir(parents=True, exist_ok=True)
    train_reader = CorpusReader(cfg.corpus, "train", FEATURE_FIELDS)
    model, state = train_pae(train_reader, cfg.pae, out / "pae.pt", cfg.seed, cfg.progress)
    reader = CorpusReader(cfg.corpus, "all", FEATURE_FIELDS)
    x = embed_entries(model, state, reader, cfg.embed_stride)
    train = np.array([e["split"] == "train" for e in reader.entries])
    z = Standardizer.fit(x[train])(x)
    labels = fit_clusters(z[train], cfg.clusters, cfg.method, cfg.seed).predict(z)
    weights = np.zeros(len(labels))
    weights[train] = balanced_weights(labels[train], reader.lengths[train])
    result = HMEResult(
        reader.entries,
        x,
        z,
        labels,
        weights,
        diversity_table(reader.entries, x, cfg.eps),
        cluster_checks(reader.entries, z, train, cfg.check_ks, cfg.method, cfg.seed),
        list(state["losses"]),
        0.0,
        out,
    )
    save_outputs(result, cfg)
    result.seconds = time.perf_counter() - t0
    from hgpt_training.hme_plots import write_report

    write_report(result, cfg, reader.manifest)
    return result


def save_outputs(r: HMEResult, cfg: HMEConfig) -> None:
    """embedding.npz (arrays) and clusters.json (entry -> cluster, weight) for the expert-training stage."""
    ids = np.array([e["entry_id"] for e in r.entries])
    np.savez(r.out / "embedding.npz", entry_ids=ids, x=r.x, z=r.z, labels=r.labels, weights=r.weights)
    doc = {
        "clusters": int(r.labels.max() + 1) if len(r.labels) else 0,
        "method": cfg.method,
        "corpus": str(cfg.corpus),
        "entries": {
            e["entry_id"]: {"cluster": int(c), "weight": float(w), "split": e["split"]}
            for e, c, w in zip(r.entries, r.labels, r.weights, strict=True)
        },
    }
    atomic_write_bytes(r.out / "clusters.json", json.dumps(doc, indent=1).encode())


def hme_cmd(cfg: HMEConfig) -> None:
    """Train HME on a built corpus, cluster it and write the report."""
    r = run_hme(cfg)
    print(f"HME report: {r.out / 'report.md'} ({r.seconds:.1f} s)")


@dataclass(frozen=True)
class AllConfig:
    """Build the corpus, then HME + report on it (hme.corpus is set to corpus.out)."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    hme: HMEConfig = field(default_factory=HMEConfig)


def all_cmd(cfg: AllConfig) -> None:
    """Build the corpus and its HME report in one go."""
    t0 = time.perf_counter()
    b = build(cfg.corpus)
    print_summary(b.manifest)
    print(f"corpus: {b.computed} clips processed, {b.skipped} reused, {b.seconds:.1f} s")
    r = run_hme(dataclasses.replace(cfg.hme, corpus=cfg.corpus.out))
    print(f"HME: {r.seconds:.1f} s; report {r.out / 'report.md'}; total {time.perf_counter() - t0:.1f} s")
