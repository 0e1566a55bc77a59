"""The expert library: a manifest of ACCEPTED experts, each judged by the evaluation harness.

An expert enters only if, on its cluster's train clips (original speed) under the evaluation protocol
(:func:`hgpt_sim.eval_runner.evaluate_policies`: starts, capped runs, DESIGN §5 fall rule, DR on), it beats
its teacher run side by side on the same runs: SR higher by ``sr_gain`` (default 10 points), or SR equal
(within ``sr_tie``) and MPJPE lower by ``mpjpe_cut`` (default 10 %). A from-scratch expert must reach
``min_sr``. Peer adapters (TWIST2) are teachers too: the manifest lists ``twist2`` as the teacher of
every cluster without an accepted expert.

``<library>/manifest.json``::

    {"experts": [{"cluster": 13, "file": "cluster_013.pt", "mode": "residual", "teacher": "twist2",
                  "action": ..., "gains": ..., "clips": [...], "eval": {policy: {SR, mpjpe, ...}},
                  "protocol": {...}, "accepted": true, "run_dir": ..., "iteration": ...}],
     "default_teacher": "twist2"}

Use ``expert:<library>/cluster_013.pt`` as a policy/teacher spec anywhere
(:func:`hgpt_sim.policy_adapters.make_adapter`).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import tyro

from hgpt_core.errors import HgptError, require_positive
from hgpt_core.motion import atomic_write_bytes
from hgpt_sim.adapters import TrackerAdapter
from hgpt_training.expert_clusters import cluster_references
from hgpt_training.expert_policy import load_expert

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class AcceptConfig:
    """Evaluate a trained expert against its teacher on its cluster's train clips; register it if better."""

    run_dir: Path
    """The expert's run folder (expert.pt, config.json)."""
    library: Path = Path("outputs/experts")
    corpus: Path | None = None
    """Corpus (default: the one the run trained on)."""
    max_clips: int | None = 16
    """Clips of the cluster to evaluate (the first ones, original speed)."""
    starts: int = 3
    max_seconds: float | None = 20.0
    seeds: tuple[int, ...] = (0,)
    dr: bool = True
    sr_gain: float = 0.10
    sr_tie: float = 1e-9
    mpjpe_cut: float = 0.10
    min_sr: float = 0.9
    """From-scratch experts: the SR to reach."""
    nthread: int = 1
    out_dir: Path | None = None
    """Evaluation tables/plots (default <run_dir>/accept)."""
    force: bool = False
    """Register even if it does not pass (marked accepted: false; never used as a teacher)."""
    progress: bool = True

    def __post_init__(self) -> None:
        """Refuse counts, times and thresholds that cannot work, and a ``--corpus`` without manifest.json
        (HgptError naming the option or path: one line, exit 2), before any loading or evaluation."""
        positive = {
            "starts": self.starts, "max-clips": self.max_clips, "max-seconds": self.max_seconds,
            "nthread": self.nthread,
        }  # fmt: skip
        require_positive(positive)
        if not self.seeds:
            raise HgptError("--seeds: give at least one seed")
        fractions = {
            "sr-gain": (self.sr_gain, 1.0), "sr-tie": (self.sr_tie, 1.0), "mpjpe-cut": (self.mpjpe_cut, 1.0),
            "min-sr": (self.min_sr, 1.0),
        }  # fmt: skip
        for name, (v, top) in fractions.items():
            if not 0 <= v <= top:
                raise HgptError(f"--{name} {v} must be in [0, {top:g}]")
        if self.corpus is not None:
            from hgpt_core.corpus_store import load_manifest

            load_manifest(self.corpus)


def verdict(expert: dict, teacher: dict | None, mode: str, cfg: AcceptConfig) -> tuple[bool, str]:
    """(accepted, why) from the harness's overall rows (SR, mpjpe)."""
    if mode == "scratch" or teacher is None:
        ok = expert["SR"] >= cfg.min_sr
        return ok, f"SR {expert['SR']:.3f} {'>=' if ok else '<'} {cfg.min_sr:.3f}"
    d_sr = expert["SR"] - teacher["SR"]
    if d_sr >= cfg.sr_gain - 1e-12:
        return True, f"SR +{100 * d_sr:.1f} points over the teacher (>= {100 * cfg.sr_gain:.0f})"
    if abs(d_sr) <= cfg.sr_tie and expert["mpjpe"] <= (1 - cfg.mpjpe_cut) * teacher["mpjpe"]:
        cut = 1 - expert["mpjpe"] / teacher["mpjpe"]
        return True, f"equal SR, MPJPE -{100 * cut:.1f} % (>= {100 * cfg.mpjpe_cut:.0f} %)"
    return False, (
        f"SR {expert['SR']:.3f} vs teacher {teacher['SR']:.3f} (needs +{100 * cfg.sr_gain:.0f} points), "
        f"MPJPE {expert['mpjpe']:.4f} vs {teacher['mpjpe']:.4f} "
        f"(needs -{100 * cfg.mpjpe_cut:.0f} % at equal SR)"
    )


def evaluate_expert(
    expert: TrackerAdapter,
    teacher: str | TrackerAdapter | None,
    clips,
    cfg: AcceptConfig,
    out_dir: Path | None,
):
    """Expert (and teacher) side by side on the same runs; returns the harness's EvalResults."""
    from hgpt_sim.eval_runner import evaluate_policies

    policies = [expert] + ([teacher] if teacher is not None else [])
    return evaluate_policies(
        policies,
        clips=clips,
        starts=cfg.starts,
        max_seconds=cfg.max_seconds,
        seeds=cfg.seeds,
        dr=cfg.dr,
        nthread=cfg.nthread,
        out_dir=out_dir,
        plots=out_dir is not None,
        progress=cfg.progress,
    )


def read_manifest(library: Path) -> dict:
    p = Path(library) / MANIFEST
    if p.is_file():
        return json.loads(p.read_text())
    return {"experts": [], "default_teacher": "twist2"}


def teacher_specs(library: Path, num_clusters: int) -> list[str]:
    """Teacher spec per cluster: the accepted expert's ``expert:<file>``, else the default (twist2)."""
    doc = read_manifest(library)
    out = [doc.get("default_teacher", "twist2")] * num_clusters
    for e in doc["experts"]:
        if e.get("accepted") and 0 <= e["cluster"] < num_clusters:
            out[e["cluster"]] = f"expert:{Path(library) / e['file']}"
    return out


def accept(cfg: AcceptConfig) -> dict:
    """Evaluate ``cfg.run_dir``'s expert against its teacher and write the verdict into the manifest."""
    run = Path(cfg.run_dir)
    if not (run / "expert.pt").is_file():
        raise HgptError(f"{run}/expert.pt not found: train it first (hgpt train expert)")
    doc = torch.load(run / "expert.pt", map_location="cpu", weights_only=False)
    rc = json.loads((run / "config.json").read_text())
    corpus = Path(cfg.corpus or rc["corpus"])
    clips = cluster_references(corpus, doc["cluster"], rc.get("hme_dir"), "train", cfg.max_clips)
    adapter = load_expert(run / "expert.pt")
    teacher = doc["teacher"] if doc["mode"] == "residual" else None
    out_dir = cfg.out_dir or run / "accept"
    t0 = time.perf_counter()
    res = evaluate_expert(adapter, teacher, clips, cfg, out_dir)
    overall = res.overall()
    names = res.policies
    ev = {n: {k: v for k, v in overall[n].items() if isinstance(v, (int, float))} for n in names}
    ok, why = verdict(ev[names[0]], ev[names[1]] if teacher else None, doc["mode"], cfg)
    lib = Path(cfg.library)
    lib.mkdir(parents=True, exist_ok=True)
    entry = {
        "cluster": doc["cluster"],
        "file": f"cluster_{doc['cluster']:03d}.pt",
        "mode": doc["mode"],
        "teacher": doc["teacher"] if doc["mode"] == "residual" else None,
        "action": (
            "PD target = default + scale * (a_teacher + residual)"
            if doc["mode"] == "residual"
            else "PD target = default + scale * a"
        )
        + " (TWIST2 default pose, scale 0.5, raw action clipped to +-10)",
        "gains": {"kp/kd": "twist2", "actuator": "MuJoCo position, implicit PD", "physics_dt": 0.005},
        "control_dt": 0.02,
        "clips": [c.name for c in clips],
        "eval": ev,
        "protocol": {
            "starts": cfg.starts,
            "max_seconds": cfg.max_seconds,
            "seeds": list(cfg.seeds),
            "dr": cfg.dr,
            "fall": "FallConfig.evaluation (DESIGN §5)",
            "split": "train",
        },
        "accepted": ok,
        "why": why,
        "run_dir": str(run),
        "iteration": doc["iteration"],
        "eval_wall_s": time.perf_counter() - t0,
        "table": str(out_dir / "results.md"),
    }
    if ok or cfg.force:
        shutil.copyfile(run / "expert.pt", lib / entry["file"])
        m = read_manifest(lib)
        m["experts"] = [e for e in m["experts"] if e["cluster"] != entry["cluster"]] + [entry]
        m["experts"].sort(key=lambda e: e["cluster"])
        atomic_write_bytes(lib / MANIFEST, json.dumps(m, indent=1).encode())
    return entry


def accept_main() -> None:
    cfg = tyro.cli(
        AcceptConfig, description="Accept a trained expert into the library if it beats its teacher."
    )
    try:
        e = accept(cfg)
    except HgptError as exc:  # a missing expert.pt, an unreadable library: one line, as every CLI error
        print(f"hgpt train expert accept: error: {exc}", file=sys.stderr)
        sys.exit(2)
    for name, row in e["eval"].items():
        print(f"{name:>16}: SR {row['SR']:.3f}  MPJPE {row['mpjpe']:.4f} rad  runs {row['runs']}")
    print(f"{'ACCEPTED' if e['accepted'] else 'REJECTED'}: {e['why']}  ({e['table']})")
