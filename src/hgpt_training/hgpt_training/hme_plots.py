"""The HME report: PNG figures (matplotlib, Agg) and report.md next to them."""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hgpt_training.hme import BODY_JOINTS  # noqa: E402
from hgpt_training.hme_config import HMEConfig, HMEResult  # noqa: E402


def pca_2d(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection on the first two principal components (N, 2) and their explained variance ratios (2,)."""
    zc = z - z.mean(axis=0)
    _, s, vt = np.linalg.svd(zc, full_matrices=False)
    var = s**2 / max(np.sum(s**2), 1e-12)
    return zc @ vt[:2].T, var[:2]


def _scatter(p: np.ndarray, keys: list, title: str, path, var: np.ndarray, cmap: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 5.5))
    colours = plt.get_cmap(cmap)
    for i, key in enumerate(sorted(set(keys))):  # keys are all str (sources) or all int (clusters)
        m = np.array([k == key for k in keys])
        ax.scatter(p[m, 0], p[m, 1], s=10, alpha=0.7, color=colours(i % colours.N), label=str(key))
    ax.set_xlabel(f"PC1 ({var[0]:.0%})")
    ax.set_ylabel(f"PC2 ({var[1]:.0%})")
    ax.set_title(title)
    ax.legend(fontsize=7, markerscale=1.5, ncol=2 if len(set(keys)) > 10 else 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_all(r: HMEResult) -> dict[str, str]:
    """Write the figures; returns {name: file name}."""
    sources = [q["source"] for q in r.seqs]
    p, var = pca_2d(r.z)
    files = {
        "pca_source": "pca_source.png",
        "pca_cluster": "pca_cluster.png",
        "sizes": "cluster_sizes.png",
        "diversity": "diversity.png",
        "loss": "pae_loss.png",
    }
    _scatter(p, sources, "HME embedding (PCA), by source", r.out / files["pca_source"], var, "tab10")
    labels = [int(c) for c in r.labels]
    _scatter(p, labels, "HME embedding (PCA), by cluster", r.out / files["pca_cluster"], var, "tab20")

    k = int(r.labels.max()) + 1
    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = np.zeros(k)
    for i, s in enumerate(sorted(set(sources))):
        counts = np.bincount(r.labels[[x == s for x in sources]], minlength=k)
        ax.bar(np.arange(k), counts, bottom=bottom, label=s, color=plt.get_cmap("tab10")(i % 10))
        bottom += counts
    ax.set_xlabel("cluster")
    ax.set_ylabel("sequences (all splits)")
    ax.set_title("Cluster sizes by source")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(r.out / files["sizes"], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    names = [d["group"] for d in r.diversity]
    for ax, key in zip(axes, ("gstd", "log_volume"), strict=True):
        ax.barh(
            names,
            [d[key] for d in r.diversity],
            color=["tab:gray" if "ALL" in n else "tab:blue" for n in names],
        )
        ax.set_title(key)
    fig.tight_layout()
    fig.savefig(r.out / files["diversity"], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(1, len(r.losses) + 1), r.losses)
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction MSE (normalised)")
    ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(r.out / files["loss"], dpi=110)
    plt.close(fig)
    return files


def _short(clip_id: str) -> str:
    name = clip_id.split("/", 1)[1]
    return name.removeprefix("0-motions_raw_tairantestbed_smpl_video_").removesuffix("_filter_amass")


def _numeric(v: object) -> bool:
    try:
        float(str(v).removesuffix(" *"))
    except ValueError:
        return False
    return True


def _table(header: list[str], rows: list[list]) -> list[str]:
    """Markdown table; columns whose every cell is a number are right-aligned."""
    align = ["--:" if rows and all(_numeric(r[i]) for r in rows) else "---" for i in range(len(header))]
    return [
        f"| {' | '.join(header)} |",
        f"|{'|'.join(align)}|",
        *(f"| {' | '.join(map(str, r))} |" for r in rows),
    ]


def corpus_section(cfg: HMEConfig, manifest: dict) -> list[str]:
    """Sources, rejected clips and rejected time-warp copies."""
    s, clips = manifest["summary"], {c["clip_id"]: c for c in manifest["clips"]}
    accepted = sum(e["verdict"] == "accepted" for e in manifest["entries"])
    rows = [
        [n, v["licence"], v["clips"], v["accepted_clips"], v["frames_50hz"], v["frames_augmented"]]
        for n, v in s["per_source"].items()
    ]
    rejected = [[c["clip_id"], "; ".join(c["reasons"])] for c in clips.values() if c["verdict"] != "accepted"]
    copies = [e for e in manifest["entries"] if e["verdict"] != "accepted"]
    copies = [e for e in copies if clips[e["clip_id"]]["verdict"] == "accepted"]
    return [
        "# Motion corpus and HME report",
        "",
        f"Corpus `{cfg.corpus}`: {len(clips)} source clips, {accepted} accepted entries (time-warp factors "
        f"{manifest['config']['speed_factors']}), frames per split {s['frames_per_split']}.",
        "",
        *_table(["source", "licence", "clips", "accepted", "frames at 50 Hz", "with time-warp"], rows),
        "",
        "## Rejected clips",
        "",
        *_table(["clip", "reasons"], rejected),
        "",
        f"Time-warped copies rejected on their own ({len(copies)}):",
        "",
        *(f"- {e['entry_id']}: {e['reason']}" for e in copies),
    ]


def hme_section(r: HMEResult, cfg: HMEConfig, files: dict[str, str]) -> list[str]:
    """Autoencoder training and diversity table."""
    m = len(BODY_JOINTS) + cfg.pae.root_channels
    d = 4 * m
    star = {True: " *", False: ""}
    rows = [
        [
            x["group"],
            x["sequences"],
            f"{x['gstd']:.4f}",
            x["constant_dims"],
            f"{x['gstd_varying']:.4f}",
            f"{x['log_volume']:.2f}{star[x['rank_deficient']]}",
        ]
        for x in r.diversity
    ]
    return [
        "",
        "## HME",
        "",
        f"Periodic autoencoder: window {cfg.pae.window} frames, {m} latent channels "
        f"({len(BODY_JOINTS)} joints, {cfg.pae.root_channels} root), "
        f"{len(r.losses)} epochs of {cfg.pae.steps_per_epoch or 'all'} batches, reconstruction MSE "
        f"{r.losses[0]:.4f} -> {r.losses[-1]:.4f} (normalised features). HME vector: mean and std over a "
        f"sequence's windows of each channel's amplitude A and A x frequency, D = {d}. A sequence is a "
        f"segment of at most {cfg.segment_s:g} s of one entry: {len(r.seqs)} sequences.",
        "",
        f"![loss]({files['loss']})",
        "",
        "### Diversity",
        "",
        f"gstd = exp(mean_j log sigma_j), log-volume = 0.5 logdet(Sigma + {cfg.eps:g} I), raw HME vectors.",
        "",
        *_table(["group", "sequences", "gstd", "constant dims", "gstd of the others", "log-volume"], rows),
        "",
        f"\\* N <= D = {d}: singular covariance, log-volume dominated by eps (not comparable). A dimension "
        "is constant when a source never moves that joint (ASAP's ankle roll): gstd is then 0 by definition.",
        "",
        f"![diversity]({files['diversity']})",
    ]


def cluster_section(r: HMEResult, cfg: HMEConfig, files: dict[str, str]) -> list[str]:
    """Cluster table and the walk/kick co-clustering check."""
    rows = []
    for c in range(int(r.labels.max()) + 1):
        idx = np.flatnonzero(r.labels == c)
        src = Counter(r.seqs[i]["source"] for i in idx).most_common()
        clips = Counter(_short(r.seqs[i]["clip_id"]) for i in idx).most_common(4)
        rows.append(
            [
                c,
                len(idx),
                f"{r.weights[idx].sum():.3f}",
                ", ".join(f"{a} {b}" for a, b in src),
                ", ".join(f"{a} ({b})" for a, b in clips),
            ]
        )
    pairs = ("walk_walk", "lafan_gmt_walk_walk", "kick_kick", "walk_kick")
    checks = [[c["k"], *(f"{c[k]:.2f}" for k in pairs)] for c in r.checks]
    c0 = r.checks[0] if r.checks else {"walks": 0, "kicks": 0, "nearest_walk": float("nan")}
    return [
        "",
        f"### Clusters (K = {int(r.labels.max()) + 1}, {cfg.method}, fitted on train)",
        "",
        f"![by source]({files['pca_source']}) ![by cluster]({files['pca_cluster']})",
        "",
        f"![sizes]({files['sizes']})",
        "",
        *_table(["cluster", "sequences", "train weight", "sources", "most common clips (sequences)"], rows),
        "",
        "### Do similar motions share clusters?",
        "",
        f"Original-speed sequences of clips named *walk* (not *kick*, *dance*; {c0['walks']}) and *kick* "
        f"({c0['kicks']}): fraction of pairs from different clips that share a cluster (K-Means seed "
        f"{cfg.seed}). The nearest sequence of another clip is a walk for {c0['nearest_walk']:.0%} of walks.",
        "",
        *_table(["K", "walk-walk", "LAFAN1/GMT walk-walk", "kick-kick", "walk-kick"], checks),
        "",
        f"HME stage time: {r.seconds:.1f} s.",
        "",
    ]


def write_report(r: HMEResult, cfg: HMEConfig, manifest: dict) -> None:
    """Figures + report.md in ``r.out``."""
    files = plot_all(r)
    lines = corpus_section(cfg, manifest) + hme_section(r, cfg, files) + cluster_section(r, cfg, files)
    (r.out / "report.md").write_text("\n".join(lines))
