"""``hgpt train distill``: parallel DAgger from teachers (TWIST2, experts) into a Humanoid-GPT or a baseline.

Rounds: collect (the student drives ``num_envs`` envs, teachers label every step, :mod:`hgpt_training.dagger`)
-> aggregate (:class:`~hgpt_training.distill_data.TokenStore`) -> train on the aggregate (all positions of
every sequence supervised in one forward pass, SmoothL1, AdamW, grad clip). Round 0 executes the teacher
(beta = 1: behaviour cloning warm start); later rounds mix by ``betas``.

The student's PD gains, default pose and action scale are the teacher's (labels are PD targets), 50 Hz
control,
200 Hz implicit PD (DESIGN §7). Everything resumes: a round collected is on disk, training checkpoints every
``ckpt_every`` iterations with optimiser and RNG state, and each iteration's batch is drawn from a generator
seeded by (seed, round, iteration, rank), so a resumed run continues identically.

Scale-out: ``torchrun --nproc-per-node K -m hgpt_training.distill ...`` trains with DDP (gloo on CPU, NCCL on
CUDA); rank 0 collects and writes, every rank trains on its own batches.

Example (this machine, one core)::

    hgpt train distill --run-dir ~/hgpt-runs/gpt_s --corpus ~/hgpt-runs/corpus_full
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from hgpt_core.errors import HgptError, require_positive
from hgpt_core.motion import atomic_write_bytes
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_policy.config import PolicyConfig, baseline_config, gpt_config
from hgpt_policy.model import build_policy, make_metadata, num_params
from hgpt_training.dagger import CollectConfig, TeacherMix, collect_round
from hgpt_training.distill_data import SequenceSampler, TokenStore, corpus_motions

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class DistillConfig:
    """DAgger distillation of one student."""

    run_dir: Path = Path.home() / "hgpt-runs" / "distill"
    """Checkpoints, token store, logs (keep outside the work tree)."""
    corpus: Path = Path("outputs/corpus_full")
    """Built corpus (``hgpt corpus all --full``); its train split gives the episodes."""
    hme_dir: Path | None = None
    """HME clusters (default <corpus>/hme)."""
    max_frames: int | None = 400_000
    """Reference frames loaded (HME-weighted subset of the train split; memory ~1 kB/frame)."""
    student: Literal["gpt", "mlp", "tcn"] = "gpt"
    size: Literal["S", "B", "L"] = "S"
    """GPT size."""
    inference: Literal["sliding_kv", "window"] = "sliding_kv"
    """GPT history semantics (train for what is deployed; see docs/training.md)."""
    n_layer: int | None = None
    """Override the GPT depth (tests, small students)."""
    teachers: tuple[str, ...] = ("twist2",)
    """Teacher specs (``twist2``, an expert .onnx/.pt); teacher 0 labels clusters not in ``teacher_of``."""
    teacher_of: tuple[int, ...] = ()
    """Teacher index per HME cluster (empty: teacher 0 everywhere)."""
    expert_library: Path | None = None
    """Expert library (``hgpt train expert accept --library``): each accepted expert labels its cluster,
    ``teachers[0]`` the others; replaces ``teachers[1:]`` and ``teacher_of``."""
    init_from: Path | None = None
    """Fine-tune: a fresh run starts from this trained student (``student.pt``; same architecture, joint
    order, gains, default pose, action scale and control period, else refused). A resumed run ignores it."""
    rounds: int = 14
    max_tokens: int | None = None
    """Stop collecting once the aggregate holds this many teacher-labelled tokens (the paper's "tokens")."""
    betas: tuple[float, ...] = (1.0, 0.5, 0.25)
    """Probability per episode that the teacher's action is executed, per round (then 0)."""
    collect: CollectConfig = field(default_factory=CollectConfig)
    iters_first: int = 600
    """Training iterations after round 0 (behaviour cloning)."""
    iters_per_round: int = 250
    batch_tokens: int = 3200
    """Tokens per iteration (per rank): 8 sequences of 400 from reset (sliding_kv, ~2.4 s on one core), 100
    windows of 32 (window GPT, TCN, MLP)."""
    batch_size: int | None = None
    """Sequences per iteration (overrides ``batch_tokens``)."""
    seq_len: int | None = None
    """Tokens per sequence: default ``context_len`` (window) or ``collect.episode_steps`` (from reset)."""
    lr: float = 3e-4
    """AdamW learning rate (paper: 1e-4 over far more iterations; 3e-4 for the short CPU schedule)."""
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    smooth_l1_beta: float = 1.0
    ckpt_every: int = 50
    threads: int = 1
    device: str = "auto"
    """``auto``: CUDA when a GPU is present, else the CPU; ``cpu``, ``cuda``, ``cuda:N``. Under torchrun
    with more than one process, ``auto``/``cuda`` put each rank on GPU ``LOCAL_RANK`` (NCCL)."""
    seed: int = 0
    policy_id: str = ""
    """Name recorded in the metadata (default ``hgpt-<student>-<size>-<inference>``)."""
    progress: bool = True

    def __post_init__(self) -> None:
        """Refuse counts and rates that cannot work (HgptError naming the option), before any loading."""
        positive = {
            "rounds": self.rounds, "batch-tokens": self.batch_tokens, "lr": self.lr,
            "grad-clip": self.grad_clip,
            "ckpt-every": self.ckpt_every, "threads": self.threads, "max-tokens": self.max_tokens,
            "max-frames": self.max_frames, "batch-size": self.batch_size, "seq-len": self.seq_len,
            "n-layer": self.n_layer,
        }  # fmt: skip
        require_positive(positive)
        for name, v in {"iters-first": self.iters_first, "iters-per-round": self.iters_per_round}.items():
            if v < 0:
                raise HgptError(f"--{name} {v} must be >= 0")
        if not all(0.0 <= b <= 1.0 for b in self.betas):
            raise HgptError(f"--betas {' '.join(map(str, self.betas))}: each must be in [0, 1]")

    def teacher_mix_specs(self) -> tuple[list[str], list[int]]:
        """(teacher specs, teacher index per HME cluster), ``expert_library`` resolved."""
        if self.expert_library is None:
            return list(self.teachers), list(self.teacher_of)
        from hgpt_training.expert_library import MANIFEST, read_manifest

        if not (Path(self.expert_library) / MANIFEST).is_file():
            lib = self.expert_library
            raise HgptError(f"--expert-library {lib}: no {MANIFEST} (write it with hgpt train expert accept)")
        specs, by = [self.teachers[0]], list[int]()
        for e in read_manifest(self.expert_library)["experts"]:
            if not e.get("accepted"):
                continue
            by += [0] * (e["cluster"] + 1 - len(by))
            specs.append(f"expert:{Path(self.expert_library) / e['file']}")
            by[e["cluster"]] = len(specs) - 1
        return specs, by

    def policy_config(self) -> PolicyConfig:
        if self.student == "gpt":
            extra = {"n_layer": self.n_layer} if self.n_layer else {}
            return gpt_config(self.size, self.inference, **extra)
        return baseline_config(self.student)

    def beta(self, r: int) -> float:
        return self.betas[r] if r < len(self.betas) else 0.0

    def iters(self, r: int) -> int:
        return self.iters_first if r == 0 else self.iters_per_round


def student_metadata(cfg: DistillConfig, arch: PolicyConfig, training: dict | None = None) -> PolicyMetadata:
    """The student's metadata: the teacher's gains/default pose/action scale, the deployable token."""
    from hgpt_policy.twist2 import twist2_metadata

    t = twist2_metadata()
    pid = (
        cfg.policy_id or f"hgpt-{cfg.student}-{cfg.size if cfg.student == 'gpt' else 'base'}-{arch.inference}"
    )
    return make_metadata(
        arch,
        pid,
        default_joint_pos=t.default_joint_pos,
        kp=t.kp,
        kd=t.kd,
        action_scale=t.action_scale,
        training=training or {},
    )


RUN_KEYS = (
    "run_dir", "max_tokens", "rounds", "policy_id", "progress", "ckpt_every",
    "batch_size", "batch_tokens", "device", "threads",
)  # fmt: skip
"""Config fields that name, bound or place a run rather than define its recipe (batch size is compared as the
effective sequences per iteration; a GPU run may continue a CPU one); ``collect.progress`` and
``collect.nthread`` likewise."""


def saved_config(cfg: DataclassInstance) -> dict:
    """``cfg`` (a distill or expert config) as state.pt stores it: ``dataclasses.asdict`` through JSON (paths
    as strings)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def sequence_length(seq_len: int | None, inference: str, context_len: int, episode_steps: int) -> int:
    """Training sequence length in tokens: ``seq_len`` when set, else the context (``window``: windows of H
    tokens) or the whole episode (``sliding_kv`` and the baselines: sequences from the reset)."""
    return seq_len or (context_len if inference == "window" else episode_steps)


def recipe(config: dict, arch: dict) -> dict:
    """A distill config (as saved in state.pt: :func:`saved_config`) and its architecture,
    without the fields that only name, bound or place the run; the batch as sequences per iteration. Fields
    a run saved before they existed take their default (they did not change its recipe)."""

    def merged(default: dict, saved: dict) -> dict:
        out = {**default, **saved}
        for k, d in default.items():
            if isinstance(d, dict) and isinstance(out[k], dict):
                out[k] = merged(d, out[k])
        return out

    config = merged(saved_config(DistillConfig()), config)
    out = {k: v for k, v in config.items() if k not in RUN_KEYS}
    out["collect"] = {k: v for k, v in config["collect"].items() if k not in ("progress", "nthread")}
    seq = sequence_length(
        config.get("seq_len"), arch["inference"], arch["context_len"], config["collect"]["episode_steps"]
    )
    out["sequences_per_iter"] = config.get("batch_size") or max(1, config["batch_tokens"] // seq)
    out["arch"] = arch
    return out


def sequence_loss(model, x, y, m, beta: float) -> torch.Tensor:
    """SmoothL1 over every supervised position: sum over valid (B, L) slots / (B * L * A).

    The fixed denominator makes the DDP average over ranks equal the loss of the union batch.
    """
    pred = model(x)
    per = F.smooth_l1_loss(pred, y, reduction="none", beta=beta).sum(-1) * m
    return per.sum() / (x.shape[0] * x.shape[1] * y.shape[-1])


def make_teachers(cfg: DistillConfig) -> TeacherMix:
    from hgpt_sim.policy_adapters import make_adapter

    specs, teacher_of = cfg.teacher_mix_specs()
    teachers = [make_adapter(s) for s in specs]
    by = np.asarray(teacher_of or (0,), dtype=np.int64)
    if (by < 0).any() or (by >= len(teachers)).any():
        raise HgptError(f"teacher_of {teacher_of} names teachers outside 0..{len(teachers) - 1}")
    return TeacherMix(teachers, by)


class Trainer:
    """One distillation run in ``cfg.run_dir`` (created or resumed)."""

    def __init__(self, cfg: DistillConfig) -> None:
        self.cfg = cfg
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.device = resolve_device(cfg.device)
        torch.set_num_threads(cfg.threads)
        self.run_dir = Path(cfg.run_dir).expanduser()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.store = TokenStore(self.run_dir / "tokens")
        self.arch = cfg.policy_config()
        torch.manual_seed(cfg.seed)
        self.model = build_policy(self.arch).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.round, self.phase, self.iter, self.trained_tokens = 0, "collect", 0, 0
        self.parent: dict | None = None
        """The student a fine-tune started from: its path, policy_id and training metadata (lineage)."""
        if not self._load() and cfg.init_from is not None:
            self._init_from(Path(cfg.init_from).expanduser())
        self.ddp = None
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(self.model, device_ids=ids)
        self.tb = _tensorboard(self.run_dir / "tb") if self.rank == 0 else None

    @property
    def seq_len(self) -> int:
        c = self.cfg
        return sequence_length(c.seq_len, self.arch.inference, self.arch.context_len, c.collect.episode_steps)

    @property
    def batch_size(self) -> int:
        return self.cfg.batch_size or max(1, self.cfg.batch_tokens // self.seq_len)

    # ---- state ---------------------------------------------------------------------------------------

    def _init_from(self, path: Path) -> None:
        """Copy a trained student's weights into the fresh model after checking it means the same actions."""
        from hgpt_policy.export import load_checkpoint

        if not path.is_file():
            raise HgptError(f"--init-from {path}: no such file")
        try:
            model, meta = load_checkpoint(path)
        except Exception as e:  # not a checkpoint, or its metadata does not describe it
            raise HgptError(f"--init-from {path}: {e}") from e
        want = student_metadata(self.cfg, self.arch)
        if model.config.to_dict() != self.arch.to_dict():
            raise HgptError(f"--init-from {path}: architecture {meta.arch} != this run's {want.arch}")
        keys = ("joint_names", "default_joint_pos", "kp", "kd", "action_scale", "obs_terms", "control_dt")
        for key in keys:
            a, b = getattr(meta, key), getattr(want, key)
            same = a == b if key in ("joint_names", "obs_terms") else np.allclose(a, b)
            if not same:
                raise HgptError(f"--init-from {path}: its {key} differs from this run's (actions mean else)")
        self.model.load_state_dict(model.state_dict())
        self.parent = {"path": str(path), "policy_id": meta.policy_id, "training": meta.training}

    def _load(self) -> bool:
        """Resume from the run's state file; False when there is none (a fresh run)."""
        path = self.run_dir / STATE_FILE
        if not path.is_file():
            return False
        s = torch.load(path, map_location=self.device, weights_only=False)
        if s["arch"] != self.arch.to_dict():
            raise HgptError(f"{path} was trained with another architecture; use a new --run-dir")
        if "config" in s:  # the same recipe, or a run of two recipes that no command describes
            was, now = (
                {**recipe(c, s["arch"]), "init_from": None}  # a resumed run ignores --init-from
                for c in (s["config"], saved_config(self.cfg))
            )
            diff = [
                f"{k}: {was.get(k)!r} -> {now.get(k)!r}"
                for k in sorted(was | now)
                if was.get(k) != now.get(k)
            ]
            if diff:
                raise HgptError(
                    f"{path} was trained with another recipe ({'; '.join(diff)[:400]}); resume it with the"
                    " options it started with (only --rounds, --max-tokens, --threads, --device, --progress,"
                    " --ckpt-every may change) or use a new --run-dir"
                )
        self.model.load_state_dict(s["model"])
        self.opt.load_state_dict(s["opt"])
        self.round, self.phase, self.iter = s["round"], s["phase"], s["iter"]
        self.trained_tokens = s["trained_tokens"]
        torch.set_rng_state(s["torch_rng"])
        self.parent = s.get("parent")
        init = s.get("config", {}).get("init_from")
        if self.parent is None and init not in (None, "None") and Path(init).is_file():
            # a fine-tune saved before its lineage was kept: its config names the student it started from
            from hgpt_policy.export import load_checkpoint

            meta = load_checkpoint(Path(init))[1]
            self.parent = {"path": str(init), "policy_id": meta.policy_id, "training": meta.training}
        return True

    def save(self) -> None:
        if self.rank != 0:
            return
        blob = {
            "arch": self.arch.to_dict(),
            "config": saved_config(self.cfg),
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "round": self.round,
            "phase": self.phase,
            "iter": self.iter,
            "trained_tokens": self.trained_tokens,
            "torch_rng": torch.get_rng_state(),
            "parent": self.parent,
        }
        buf = io.BytesIO()
        torch.save(blob, buf)
        atomic_write_bytes(self.run_dir / STATE_FILE, buf.getvalue())

    def metadata(self) -> PolicyMetadata:
        cfg = self.cfg
        return student_metadata(
            cfg,
            self.arch,
            {
                "method": "parallel DAgger (Humanoid-GPT 3.3)",
                "teachers": cfg.teacher_mix_specs()[0],
                "teacher_of": cfg.teacher_mix_specs()[1],
                "corpus": str(cfg.corpus),
                "rounds": self.round,
                "collected_tokens": self.store.num_tokens(),
                "trained_tokens": self.trained_tokens,
                "params": num_params(self.model),
                **self._lineage(),
            },
        )

    def _lineage(self) -> dict:
        """For a fine-tune: the student it started from, and the tokens of the whole lineage."""
        if self.parent is None:
            return {}
        t = self.parent["training"]
        before = t.get("lineage_collected_tokens", t.get("collected_tokens", 0))
        return {
            "init_from": {k: self.parent[k] for k in ("path", "policy_id")}
            | {k: t.get(k) for k in ("rounds", "collected_tokens", "trained_tokens", "teachers")},
            "lineage_collected_tokens": int(before) + self.store.num_tokens(),
        }

    # ---- phases --------------------------------------------------------------------------------------

    def _collect(self, motions, mix) -> None:
        from hgpt_policy.runtime import Policy

        r, cfg = self.round, self.cfg
        beta = cfg.beta(r)
        meta = self.metadata()
        student = Policy.from_model(self._cpu_model(), meta) if beta < 1.0 else None
        t0 = time.perf_counter()
        with torch.no_grad():
            steps = cfg.collect.steps_first if r == 0 and cfg.collect.steps_first else cfg.collect.steps
            ccfg = dataclasses.replace(
                cfg.collect, progress=cfg.collect.progress and cfg.progress and not self.rank
            )
            res = collect_round(motions, meta, student, mix, beta, ccfg, cfg.seed * 1000 + r, steps)
        res.info["wall_s"] = time.perf_counter() - t0
        res.info["steps_per_s"] = cfg.collect.num_envs * steps / res.info["wall_s"]
        self.store.write_round(r, res.tokens, res.labels, res.episodes, res.info)
        self._log({f"collect/{k}": v for k, v in res.info.items() if isinstance(v, (int, float))})

    def _cpu_model(self):
        """A CPU copy of the student in eval mode (rollouts and checkpoints; training may be on CUDA)."""
        cpu = build_policy(self.arch)
        cpu.load_state_dict({k: v.cpu() for k, v in self.model.state_dict().items()})
        return cpu.eval()

    def _fit_normalizer(self) -> None:
        norm = self.model.normalizer
        if bool(norm.frozen):
            return
        rd = self.store.read_round(0)
        rng = np.random.default_rng(self.cfg.seed)
        idx = np.sort(rng.choice(len(rd.tokens), size=min(len(rd.tokens), 200_000), replace=False))
        norm.train()
        norm.update(torch.from_numpy(np.asarray(rd.tokens[idx])).to(self.device))
        norm.freeze()

    def _train(self) -> None:
        cfg, r = self.cfg, self.round
        if r == 0:
            self._fit_normalizer()
        sampler = SequenceSampler(
            [self.store.read_round(i) for i in self.store.rounds() if i <= r],
            self.seq_len,
            from_reset=self.arch.inference != "window",
        )
        net = self.ddp or self.model
        net.train()
        n = cfg.iters(r)
        bar = tqdm(
            range(self.iter, n), desc=f"round {r} train", disable=not cfg.progress or self.rank, leave=False
        )
        losses = []
        for it in bar:
            rng = np.random.default_rng([cfg.seed, r, it, self.rank])
            x, y, m = (torch.from_numpy(a).to(self.device) for a in sampler.sample(self.batch_size, rng))
            loss = sequence_loss(net, x, y, m, cfg.smooth_l1_beta)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.opt.step()
            self.iter = it + 1
            self.trained_tokens += int(m.sum().item()) * self.world
            losses.append(loss.item())
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if self.tb is not None:
                step = self.trained_tokens
                self.tb.add_scalar("train/loss", loss.item(), step)
                self.tb.add_scalar("train/grad_norm", float(gn), step)
            if self.iter % cfg.ckpt_every == 0 and self.iter < n:
                self.save()
        if losses:
            self._log(
                {"train/loss_last50": float(np.mean(losses[-50:])), "train/aggregate_tokens": sampler.tokens}
            )

    def _log(self, row: dict) -> None:
        row = {"round": self.round, "trained_tokens": self.trained_tokens, "time": time.time(), **row}
        if self.rank == 0:
            if self.tb is not None:
                for k, v in row.items():
                    if "/" in k:
                        self.tb.add_scalar(k, v, self.round)
            with open(self.run_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    def run(self) -> Path:
        """Run (or resume) every round; returns the final checkpoint (``student.pt`` in run_dir)."""
        cfg = self.cfg
        motions = mix = None
        if self._more():
            motions = (
                corpus_motions(cfg.corpus, "train", cfg.hme_dir, cfg.max_frames, seed=cfg.seed)
                if self.rank == 0
                else None
            )
            mix = make_teachers(cfg) if self.rank == 0 else None
        while self._more():
            if self.phase == "collect":
                if self.rank == 0 and self.round not in self.store.rounds():
                    self._collect(motions, mix)
                _barrier(self.world)
                self.phase, self.iter = "train", 0
                self.save()
            self._train()
            self.round, self.phase, self.iter = self.round + 1, "collect", 0
            self.save()
            self.export_checkpoint()
        _barrier(self.world)
        return self.export_checkpoint()

    def _more(self) -> bool:
        """Another round to run: below ``rounds``, and (with ``max_tokens``) fewer tokens collected."""
        if self.round >= self.cfg.rounds:
            return False
        budget = self.cfg.max_tokens
        return budget is None or self.phase != "collect" or self.store.num_tokens() < budget

    def export_checkpoint(self) -> Path:
        from hgpt_policy.export import save_checkpoint

        path = self.run_dir / "student.pt"
        if self.rank == 0:
            save_checkpoint(path, self._cpu_model(), self.metadata())
            write_curve(self.run_dir)
        return path


def write_curve(run_dir: Path) -> Path | None:
    """log.jsonl -> curve.csv and curve.png (falls per 1k steps of each round's collection, training loss)."""
    log = Path(run_dir) / "log.jsonl"
    if not log.is_file():
        return None
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    keys = sorted({k for r in rows for k in r})
    with open(Path(run_dir) / "curve.csv", "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    col = [r for r in rows if "collect/falls_per_1k_steps" in r]
    ax[0].plot([r["round"] for r in col], [r["collect/falls_per_1k_steps"] for r in col], "o-")
    ax[0].set(
        xlabel="DAgger round",
        ylabel="falls per 1000 env steps",
        title="collection (student drives from round 1)",
    )
    tr = [r for r in rows if "train/loss_last50" in r]
    ax[1].plot([r["trained_tokens"] / 1e6 for r in tr], [r["train/loss_last50"] for r in tr], "o-")
    ax[1].set(
        xlabel="trained tokens [M]", ylabel="SmoothL1 (last 50 iters)", yscale="log", title="training loss"
    )
    fig.tight_layout()
    out = Path(run_dir) / "curve.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _tensorboard(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: log.jsonl and curve.png still written
        return None
    return SummaryWriter(str(path))


def _barrier(world: int) -> None:
    if world > 1:
        torch.distributed.barrier()


def resolve_device(name: str) -> torch.device:
    """The device of this process: ``auto`` is CUDA when available, else CPU; a CUDA device under torchrun
    is this rank's GPU (``cuda:LOCAL_RANK``) unless an index is given."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise HgptError(f"--device {name!r}: not a device (auto, cpu, cuda or cuda:N): {e}") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise HgptError(f"--device {name}: no CUDA device on this machine (use --device cpu or auto)")
        if dev.index is None:
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    return dev


def main(cfg: DistillConfig | None = None) -> Path:
    """Console entry (``hgpt train distill``; also ``torchrun -m hgpt_training.distill``)."""
    import tyro

    cfg = cfg or tyro.cli(DistillConfig)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if resolve_device(cfg.device).type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
    path = Trainer(cfg).run()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"student checkpoint: {path}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return path


if __name__ == "__main__":
    main()
