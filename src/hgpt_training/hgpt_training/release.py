"""``hgpt train release``: distilled student -> exported graphs, int8 variant, test-split table, card.

1. ``student.pt`` of a run -> ONNX (``kv_step`` for sliding_kv GPTs, ``window`` otherwise) + checkpoint.
2. int8 (blockwise, :mod:`hgpt_policy.quantize`); its action error is measured on the TRAINED model over
   whole test-split episodes driven by the fp32 student (KV caches accumulate any error).
3. ``hgpt eval`` protocol on the corpus test split (unseen clips, 3 starts, 20 s cap): the teacher(s), fp32,
   int8 and the ``zero`` baseline side by side, same clips, starts and seeds.
4. ``CARD.md`` + ``card.json`` (data and its licences, tokens, teachers, semantics, gains, table, int8
   error); with
   ``--bundle`` the graph people run by default is copied into ``hgpt_policy/assets/hgpt_gpt_s``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hgpt_core.errors import HgptError, require_positive
from hgpt_core.motion import atomic_write_bytes

BUNDLE_DIR = Path(__file__).resolve().parents[2] / "hgpt_policy" / "hgpt_policy" / "assets" / "hgpt_gpt_s"


@dataclass(frozen=True)
class ReleaseConfig:
    """Export, quantise, evaluate and describe a distilled student."""

    run_dir: Path = Path.home() / "hgpt-runs" / "gpt_s_kv"
    """Distillation run (its student.pt and log.jsonl)."""
    corpus: Path = Path.home() / "hgpt-runs" / "corpus_full"
    out: Path | None = None
    """Output folder (default <run_dir>/release)."""
    stem: str = "hgpt_gpt_s"
    teachers: tuple[str, ...] = ("twist2",)
    """Compared in the same table."""
    starts: int = 3
    max_seconds: float = 20.0
    max_clips: int | None = None
    """Test clips evaluated (None: the whole test split at original speed)."""
    quant_episodes: int = 16
    """Test episodes (from reset, 200 steps each) for the int8 action error."""
    threads: int = 1
    bundle: bool = False
    """Copy the chosen graph + card into hgpt_policy/assets/hgpt_gpt_s (the default policy ``hgpt``)."""
    progress: bool = True

    def __post_init__(self) -> None:
        """Refuse counts and times that cannot work, a run without student.pt and a corpus without
        manifest.json (HgptError naming the option or path: one line, exit 2), before any export."""
        positive = {
            "starts": self.starts, "max-seconds": self.max_seconds, "max-clips": self.max_clips,
            "quant-episodes": self.quant_episodes, "threads": self.threads,
        }  # fmt: skip
        require_positive(positive)
        if Path(self.stem).name != self.stem or self.stem in ("", ".", ".."):
            raise HgptError(f"--stem {self.stem!r}: needs a plain file name stem")
        student = Path(self.run_dir) / "student.pt"
        if not student.is_file():
            raise HgptError(f"--run-dir {self.run_dir}: no student.pt (train it first: hgpt train distill)")
        from hgpt_core.corpus_store import load_manifest

        load_manifest(self.corpus)


def release(cfg: ReleaseConfig) -> dict:
    """Run every step; returns the card (also written as card.json / CARD.md)."""
    from hgpt_core.corpus_store import load_manifest
    from hgpt_policy.export import export_policy, load_checkpoint
    from hgpt_policy.quantize import quantization_error, quantize_int8
    from hgpt_sim.eval_runner import evaluate_policies

    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    out = Path(cfg.out or Path(cfg.run_dir) / "release")
    out.mkdir(parents=True, exist_ok=True)
    model, meta = load_checkpoint(Path(cfg.run_dir) / "student.pt")
    paths = export_policy(model, meta, out, cfg.stem)
    graph = "kv_step" if meta.inference == "sliding_kv" else "window"
    fp32 = paths[graph]
    int8 = quantize_int8(fp32, out / f"{cfg.stem}.{graph}.int8.onnx")
    tokens = _test_tokens(cfg, meta, model)
    qerr = quantization_error(fp32, int8, tokens, threads=cfg.threads)
    res = evaluate_policies(
        [*cfg.teachers, str(fp32), str(int8), "zero"],
        split="test",
        corpus=cfg.corpus,
        max_clips=cfg.max_clips,
        starts=cfg.starts,
        max_seconds=cfg.max_seconds,
        out_dir=out / "eval_test",
        progress=cfg.progress,
    )
    overall = res.overall()
    data_corpus = Path(meta.training.get("corpus") or cfg.corpus).expanduser()
    if not (data_corpus / "manifest.json").is_file():
        data_corpus = Path(cfg.corpus)  # trained elsewhere: the evaluation corpus describes the data
    card = {
        "policy_id": meta.policy_id,
        "inference": meta.inference,
        "arch": meta.arch,
        "training": meta.training,
        "gains": {
            "kp": meta.kp,
            "kd": meta.kd,
            "action_scale": meta.action_scale[0],
            "control_dt": meta.control_dt,
        },
        "files": {"fp32": fp32.name, "int8": int8.name, "checkpoint": paths["checkpoint"].name},
        "int8_action_error": qerr,
        "int8_error_tokens": list(tokens.shape),
        "test_split": {"starts": cfg.starts, "max_seconds": cfg.max_seconds, "overall": overall},
        "table_md": res.table(),
        "curve": _curve_summary(Path(cfg.run_dir)),
        "data": {"corpus": str(data_corpus), "sources": training_data(load_manifest(data_corpus))},
        "release_wall_s": time.perf_counter() - t0,
    }
    atomic_write_bytes(out / "card.json", json.dumps(card, indent=1, default=float).encode())
    atomic_write_bytes(out / "CARD.md", _card_md(card, fp32.name, int8.name).encode())
    for f in ("curve.png", "curve.csv"):
        if (Path(cfg.run_dir) / f).is_file():
            shutil.copy2(Path(cfg.run_dir) / f, out / f)
    if cfg.bundle:
        bundle(out, card)
    return card


def bundle(out: Path, card: dict) -> Path:
    """Copy the int8 graph when it keeps the fp32 SR on the test split, else the fp32 graph, + card files."""
    ov = card["test_split"]["overall"]
    fp, q = card["files"]["fp32"], card["files"]["int8"]
    chosen = q if ov[q.removesuffix(".onnx")]["SR"] >= ov[fp.removesuffix(".onnx")]["SR"] else fp
    BUNDLE_DIR.mkdir(parents=True, exist_ok=True)
    for old in BUNDLE_DIR.glob("*.onnx"):
        old.unlink()
    shutil.copy2(out / chosen, BUNDLE_DIR / chosen)
    for f in ("CARD.md", "card.json", "curve.png"):
        if (out / f).is_file():
            shutil.copy2(out / f, BUNDLE_DIR / f)
    return BUNDLE_DIR / chosen


def _test_tokens(cfg: ReleaseConfig, meta, model) -> np.ndarray:
    """Tokens (B, 200, D) of test-split episodes from reset, driven by the fp32 student."""
    from hgpt_policy.runtime import Policy
    from hgpt_sim.twist2 import Twist2Adapter
    from hgpt_training.dagger import CollectConfig, TeacherMix, collect_round
    from hgpt_training.distill_data import corpus_motions

    motions = corpus_motions(cfg.corpus, "test", max_frames=100_000, min_frames=200)
    length = 200
    col = CollectConfig(
        num_envs=cfg.quant_episodes, steps=length, episode_steps=length, dr=False, progress=False
    )
    with torch.no_grad():
        r = collect_round(
            motions,
            meta,
            Policy.from_model(model, meta),
            TeacherMix([Twist2Adapter()], np.array([0])),
            0.0,
            col,
            0,
        )
    seqs = [r.tokens[o : o + n] for o, n, _, _ in r.episodes if n >= 50]
    n = min(len(s) for s in seqs)
    return np.stack([s[:n] for s in seqs])


def _curve_summary(run_dir: Path) -> list[dict]:
    log = run_dir / "log.jsonl"
    if not log.is_file():
        return []
    rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    return [
        {
            "round": r["round"],
            "falls_per_1k_steps": r["collect/falls_per_1k_steps"],
            "beta": r["collect/beta"],
        }
        for r in rows
        if "collect/falls_per_1k_steps" in r
    ]


def training_data(manifest: dict, split: str = "train") -> list[dict]:
    """Per source of a corpus split (accepted entries): licence, whether it is permissive, clips and
    original-speed duration [s]; what a card must say about the data its weights come from."""
    rows: dict[str, dict] = {}
    for e in manifest["entries"]:
        if e["split"] != split or e["verdict"] != "accepted":
            continue
        r = rows.setdefault(
            e["source"],
            {
                "source": e["source"],
                "licence": e["licence"],
                "permissive": e["permissive"],
                "clips": set(),
                "duration_s": 0.0,
            },
        )
        r["clips"].add(e["clip_id"])
        if e["factor"] == 1.0:
            r["duration_s"] += e["duration_s"]
    return [
        {**r, "clips": len(r["clips"]), "duration_s": round(r["duration_s"], 1)}
        for r in sorted(rows.values(), key=lambda r: r["source"])
    ]


def _data_md(data: dict) -> str:
    """The card's section on the training data and its licences."""
    rows = data["sources"]
    table = "\n".join(
        f"| {r['source']} | {r['licence']} | {'yes' if r['permissive'] else '**no**'} | {r['clips']} | "
        f"{r['duration_s'] / 60:.1f} |"
        for r in rows
    )
    restricted = [f"{r['source']} ({r['licence']})" for r in rows if not r["permissive"]]
    verdict = (
        f"Trained partly on clips under non-permissive licences: {', '.join(restricted)}. Their terms "
        "(e.g. non-commercial use) may bind these weights; for weights from permissive data only, train on "
        "a corpus built with `hgpt corpus build --permissive-only` "
        "(`hgpt corpus all --full --corpus.permissive-only`)."
        if restricted
        else "Every training clip is under a permissive licence."
    )
    return f"""## Training data (accepted clips of the train split of `{data["corpus"]}`)

| source | licence | permissive | clips | minutes (original speed) |
|---|---|---|--:|--:|
{table}

{verdict}
"""


def _lineage_md(t: dict) -> str:
    """The card's line on a fine-tune's starting point ("" for a student trained from scratch)."""
    p = t.get("init_from")
    if not p:
        return ""
    return (
        f"\n- Fine-tuned from `{p['policy_id']}` ({p['path']}: {p['rounds']} rounds, "
        f"{p['collected_tokens']:,} tokens, teachers {p['teachers']}); tokens of the whole lineage: "
        f"{t['lineage_collected_tokens']:,}."
    )


def _card_md(card: dict, fp32: str, int8: str) -> str:
    t = card["training"]
    q = card["int8_action_error"]
    curve = "\n".join(
        f"| {c['round']} | {c['beta']:.2f} | {c['falls_per_1k_steps']:.2f} |" for c in card["curve"]
    )
    g, ts = card["gains"], card["test_split"]
    return f"""# {card["policy_id"]}: training card

Humanoid-GPT ({card["arch"].get("kind")} {card["arch"].get("n_layer")} layers x {card["arch"].get("n_embd")},
{t.get("params", 0) / 1e6:.2f}M parameters), history semantics `{card["inference"]}`, trained by
{t.get("method")} from teachers {t.get("teachers")} on the train split of `{t.get("corpus")}`.

- Rounds: {t.get("rounds")}; collected (teacher-labelled) tokens: {t.get("collected_tokens"):,};
  trained tokens (sequence positions seen by the optimiser): {t.get("trained_tokens"):,}.{_lineage_md(t)}
- Gains, default pose, action scale: TWIST2's (labels are its PD targets); control {g["control_dt"]} s,
  PD at 200 Hz (MuJoCo position actuators). All in the ONNX metadata; nodes refuse a mismatched robot config.
- Files: `{fp32}` (fp32), `{int8}` (int8 blockwise weights).
- int8 action error on the trained model, {card["int8_error_tokens"][0]} test episodes x
  {card["int8_error_tokens"][1]} steps from reset (KV cache accumulates): mean |da| {q["mean_abs"]:.4f},
  max {q["max_abs"]:.3f}, relative {100 * q["rel"]:.2f} %.

{_data_md(card["data"])}
## Test split (unseen clips), {ts["starts"]} starts, runs capped at {ts["max_seconds"]:g} s

{card["table_md"]}

## DAgger curve (collection of each round; the student drives from round 1)

| round | beta | falls per 1000 env steps (training terminations, DR on) |
|---:|---:|---:|
{curve}
"""


def main() -> None:
    import tyro

    card = release(tyro.cli(ReleaseConfig))
    print(card["table_md"])
    print(f"int8 action error: {card['int8_action_error']}")


if __name__ == "__main__":
    main()
