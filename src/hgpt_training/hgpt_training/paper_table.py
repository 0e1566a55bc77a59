"""``hgpt train table``: the paper's small-scale comparison from one command.

Rows (``--rows``) name a student and a token budget (teacher-labelled DAgger tokens, the paper's "tokens"):
``mlp:2M tcn:2M gpt_s:2M gpt_s:20M`` by default (paper, AMASS-test SR: 76.89 / 81.48 / 83.26 / 86.02).
Each row is one resumable ``hgpt train distill`` run under ``run_root/<row>`` with the same teachers, corpus
and settings; rows run one after the other (``--executor local``) or as Ray tasks (``--executor ray``: one
row per worker, e.g. one GPU each). Then every student, the teachers and ``zero`` are evaluated side by side
(with ``--executor ray`` one Ray task per policy) on the corpus test split (unseen clips) with the evaluation
protocol, and ``table.md``, ``table.json`` and ``scaling.png`` (tokens and parameters vs SR / MPJPE / MPKPE)
are written, with the paper's SR next to ours.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hgpt_core.errors import HgptError
from hgpt_core.motion import atomic_write_bytes
from hgpt_training.distill import DistillConfig, recipe, saved_config
from hgpt_training.distill_data import round_token_counts

if TYPE_CHECKING:
    from hgpt_sim.adapters import TrackerAdapter

PAPER_SR = {"mlp:2M": 76.89, "tcn:2M": 81.48, "gpt_s:2M": 83.26, "gpt_s:20M": 86.02}
"""Humanoid-GPT Table (AMASS-test, SR %) for the rows this machine can train."""
_STUDENTS = {
    "mlp": ("mlp", "S", "sliding_kv"),
    "tcn": ("tcn", "S", "sliding_kv"),
    "gpt_s": ("gpt", "S", "sliding_kv"),
    "gpt_s_window": ("gpt", "S", "window"),
    "gpt_b": ("gpt", "B", "sliding_kv"),
}
"""Row kinds: (student, GPT size, GPT history semantics). ``gpt_s_window`` is the paper's window recompute,
for the semantics comparison at equal tokens (``gpt_s:300k gpt_s_window:300k``); MLP and TCN ignore both."""


@dataclass(frozen=True)
class Row:
    """One student of the table."""

    name: str
    student: str
    size: str
    tokens: int
    inference: Literal["sliding_kv", "window"] = "sliding_kv"


def parse_row(spec: str) -> Row:
    """``gpt_s:2M`` -> Row; budgets take k/M suffixes. Raises HgptError naming the valid forms."""
    m = re.fullmatch(r"(\w+):(\d+(?:\.\d+)?)([kM]?)", spec)
    if not m or m.group(1) not in _STUDENTS:
        raise HgptError(
            f"row '{spec}': expected STUDENT:TOKENS with STUDENT in {sorted(_STUDENTS)}, e.g. gpt_s:2M"
        )
    n = float(m.group(2)) * {"": 1, "k": 1e3, "M": 1e6}[m.group(3)]
    student, size, inference = _STUDENTS[m.group(1)]
    return Row(spec, student, size, int(n), inference)


@dataclass(frozen=True)
class TableConfig:
    """Train every row, then evaluate them side by side on the test split."""

    run_root: Path = Path.home() / "hgpt-runs" / "table"
    rows: tuple[str, ...] = tuple(PAPER_SR)
    base: DistillConfig = field(default_factory=lambda: DistillConfig(rounds=1_000_000))
    """Settings shared by every row (teachers, collection, optimiser, corpus); run_dir/student are per row."""
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    """Ray cluster address (None: a local Ray with ``num_cpus``)."""
    num_cpus: int = 1
    eval_only: bool = False
    """Skip training (rows must have a student.pt)."""
    continue_from: tuple[Path, ...] = ()
    """Finished ``hgpt train distill`` runs (besides the rows under run_root) that a longer row of the same
    recipe may continue from, e.g. the release run: see ``prefix_run``."""
    train_only: bool = False
    """Train (or resume) the rows and stop: rows can then train in separate processes or machines (one
    ``--train-only`` command each) and be evaluated once, side by side, with ``--eval-only``."""
    extra: tuple[str, ...] = ()
    """Trained students to evaluate beside the rows (policy specs with training metadata, e.g. ``hgpt``, the
    bundled release, or a ``student.pt``): plotted by their metadata's tokens and parameters."""
    starts: int = 3
    max_seconds: float = 20.0
    max_clips: int | None = None
    progress: bool = True


def row_config(cfg: TableConfig, row: Row) -> DistillConfig:
    return dataclasses.replace(
        cfg.base,
        run_dir=Path(cfg.run_root) / row.name.replace(":", "_"),
        student=row.student,
        size=row.size,
        inference=row.inference,
        max_tokens=row.tokens,
        policy_id=f"hgpt-{row.name}",
        progress=cfg.progress and cfg.executor == "local",
    )


def _finished(state: dict, run_dir: Path) -> tuple[int, int] | None:
    """(tokens before its last round, tokens) of a run that ended at a round boundary (its budget or its
    rounds reached), else None. Reads the token store without opening it (a TokenStore clears temporary
    folders: the run may be another process's)."""
    if state["phase"] != "collect":
        return None
    counts = round_token_counts(run_dir / "tokens")
    if len(counts) != state["round"]:
        return None
    cfg, tokens = state["config"], sum(counts)
    done = state["round"] >= cfg["rounds"] or (cfg["max_tokens"] is not None and tokens >= cfg["max_tokens"])
    return (tokens - (counts[-1] if counts else 0), tokens) if done else None


def prefix_run(cfg: TableConfig, row: Row) -> Path | None:
    """The finished run that ``row`` can start from: the longest one with this row's recipe and fewer tokens.

    Every round is seeded by (seed, round) and training by (seed, round, iteration), so the rounds of a run
    with a smaller budget are exactly the first rounds of a longer run of the same recipe (the table's
    gpt_s:300k row reproduced the release run's first five collections to the digit): a row continues from
    it instead of redoing them. Candidates: the other rows under run_root and ``cfg.continue_from``.
    """
    import torch

    dcfg = row_config(cfg, row)
    want = recipe(saved_config(dcfg), dcfg.policy_config().to_dict())
    root = Path(cfg.run_root)
    dirs = [d for d in root.iterdir() if d.is_dir()] if root.is_dir() else []
    best: tuple[int, Path] | None = None
    for d in [*dirs, *(Path(p).expanduser() for p in cfg.continue_from)]:
        state_path = d / "state.pt"
        if d == dcfg.run_dir or not state_path.is_file():
            continue
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        span = _finished(state, d)
        # a prefix (fewer tokens), or this very row (its last round crossed the budget)
        if span is None or span[0] >= row.tokens or recipe(state["config"], state["arch"]) != want:
            continue
        tokens = span[1]
        if best is None or tokens > best[0]:
            best = (tokens, d)
    return None if best is None else best[1]


def start_from_prefix(cfg: TableConfig, row: Row) -> Path | None:
    """Seed a row that has not started with a copy of its prefix run (token rounds hard-linked: they are
    written once and never modified; state, logs and curves copied). Returns the source, or None."""
    import os
    import shutil

    run_dir = row_config(cfg, row).run_dir
    if (run_dir / "state.pt").exists() or (src := prefix_run(cfg, row)) is None:
        return None

    def link_or_copy(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:  # another file system
            shutil.copy2(a, b)

    tmp = run_dir.with_name(run_dir.name + ".seeding")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("tokens", "release", "eval_*"))
    shutil.copytree(src / "tokens", tmp / "tokens", copy_function=link_or_copy)
    shutil.rmtree(run_dir, ignore_errors=True)  # a row that never saved a state: nothing to keep
    tmp.rename(run_dir)
    print(f"{row.name}: continues from {src} (a finished run of the same recipe with fewer tokens)")
    return src


def _train_row(dcfg: DistillConfig) -> str:
    from hgpt_training.distill import Trainer

    return str(Trainer(dcfg).run())


def train_rows(cfg: TableConfig, rows: list[Row]) -> list[Path]:
    """Run (or resume) every row's distillation; returns the student checkpoints."""
    cfgs = [row_config(cfg, r) for r in rows]
    if cfg.executor == "local":
        out = []
        for r, c in sorted(zip(rows, cfgs, strict=True), key=lambda rc: rc[0].tokens):
            start_from_prefix(cfg, r)  # shorter rows first, so a longer row continues from them
            out.append((r.name, Path(_train_row(c))))
        return [dict(out)[r.name] for r in rows]
    return [Path(p) for p in _ray_map(cfg, _train_row, [(c,) for c in cfgs])]


def _ray_map(cfg: TableConfig, fn: Callable, calls: list[tuple]) -> list:
    """``[fn(*args) for args in calls]``, each call one Ray task (1 CPU) on ``cfg.ray_address`` (None: a
    local Ray with ``cfg.num_cpus``, shut down afterwards)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=cfg.ray_address, num_cpus=cfg.num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, num_gpus=0)(fn)
        return ray.get([task.remote(*args) for args in calls])
    finally:
        if started:
            ray.shutdown()


EVAL_CACHE = "eval_cache"
"""run_root folder of each policy's test-split runs, keyed by what it runs and how it was evaluated."""


def _code_digest() -> str:
    """sha256 of the sources that decide an evaluation's outcome (simulator, policy runtime, core)."""
    import importlib.util

    h = hashlib.sha256()
    for pkg in ("hgpt_core", "hgpt_policy", "hgpt_sim"):
        spec = importlib.util.find_spec(pkg)
        root = Path(next(iter(spec.submodule_search_locations or [])))  # type: ignore[union-attr]
        for f in sorted(root.rglob("*.py")):
            h.update(f.relative_to(root).as_posix().encode() + f.read_bytes())
    return h.hexdigest()


def _policy_digest(spec: str) -> str | None:
    """sha256 of what a spec runs (its file, or a built-in's name); None when it names no file we can read."""
    from hgpt_core.policy_spec import parse_policy_spec

    try:
        path = parse_policy_spec(spec).path
    except ValueError:  # a simulator-only scheme, e.g. expert:<file>
        arg = Path(spec.partition(":")[2].strip()).expanduser()
        if not arg.is_file():
            return None
        path = arg
    h = hashlib.sha256(spec.strip().encode() if path is None else path.read_bytes())
    return h.hexdigest()


def _eval_key(cfg: TableConfig, spec: str, code: str) -> str | None:
    """Cache key of one policy's test-split evaluation (None: not cacheable)."""
    import mujoco

    policy = _policy_digest(spec)
    if policy is None:
        return None
    corpus = Path(cfg.base.corpus).expanduser() / "manifest.json"
    protocol = {
        "policy": policy,
        "corpus": hashlib.sha256(corpus.read_bytes()).hexdigest() if corpus.is_file() else str(corpus),
        "split": "test",
        "max_clips": cfg.max_clips,
        "starts": cfg.starts,
        "max_seconds": cfg.max_seconds,
        "code": code,
        "mujoco": mujoco.__version__,
    }
    return hashlib.sha256(json.dumps(protocol, sort_keys=True).encode()).hexdigest()[:24]


def _evaluate_policy(
    spec: str, name: str, cfg: TableConfig, path: Path | None, adapter: TrackerAdapter | None = None
) -> list:
    """One policy's test-split runs (``RunResult`` list), saved to its cache file ``path`` (atomic)."""
    import pickle

    from hgpt_sim.eval_runner import evaluate_policies
    from hgpt_sim.policy_adapters import make_adapter

    adapter = adapter or make_adapter(spec)
    adapter.name = name
    got = evaluate_policies(
        [adapter],
        split="test",
        corpus=cfg.base.corpus,
        max_clips=cfg.max_clips,
        starts=cfg.starts,
        max_seconds=cfg.max_seconds,
        progress=cfg.progress and cfg.executor == "local",
    ).runs
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, pickle.dumps(got))
    return got


def _evaluate_missing(
    cfg: TableConfig, todo: list[tuple[str, str]], paths: dict[str, Path | None], adapters: dict
) -> dict[str, list]:
    """Evaluate the policies without cached runs: one after the other (``--executor local``) or one Ray task
    each (``--executor ray``: a cluster evaluates the whole table in the time of its slowest policy). Each
    writes its cache file as it finishes, so a killed evaluation keeps the policies done."""
    if cfg.executor == "local" or len(todo) < 2:
        return {n: _evaluate_policy(s, n, cfg, paths[n], adapters.get(n)) for n, s in todo}
    print(f"evaluating {len(todo)} policies as Ray tasks: {', '.join(n for n, _ in todo)}")
    got = _ray_map(cfg, _evaluate_policy, [(s, n, cfg, paths[n]) for n, s in todo])
    return {n: runs for (n, _), runs in zip(todo, got, strict=True)}


def evaluate_rows(cfg: TableConfig, rows: list[Row], ckpts: list[Path]) -> dict:
    """Students, teachers and zero on the test split, side by side; writes table.md/json and scaling.png.

    Each policy's runs are kept in ``run_root/eval_cache`` under a key of its file's bytes, the corpus, the
    protocol and the evaluation code: rerunning the table (more rows, a longer row) evaluates only what
    changed, and a killed evaluation resumes at the policy it was on.
    """
    import pickle

    from hgpt_sim.eval_outputs import EvalResults, protocol_text, write_outputs
    from hgpt_sim.eval_results import TRACKING_FAILURE_EE_HEIGHT
    from hgpt_sim.policy_adapters import make_adapter, policy_name
    from hgpt_sim.rewards import FallConfig

    info, adapters = {}, {}
    named = [(row.name, str(ck)) for row, ck in zip(rows, ckpts, strict=True)]
    students = [*named, *((e, e) for e in cfg.extra)]
    for name, spec in students:
        if name in dict(named) and not Path(spec).is_file():
            raise HgptError(f"row {name}: no student at {spec}; train it first (drop --eval-only)")
        a = adapters[name] = make_adapter(spec)  # loaded once: its metadata here, its runs below
        if not getattr(a, "meta", None) or not a.meta.training.get("collected_tokens"):
            raise HgptError(f"--extra {spec}: not a trained student (its metadata has no collected_tokens)")
        budget = next((r.tokens for r in rows if r.name == name), None)
        if budget is not None and (trained := int(a.meta.training["collected_tokens"])) < budget:
            raise HgptError(
                f"row {name}: its student.pt was trained on {trained:,} of its {budget:,} tokens (still "
                "training, or stopped early): finish it with --train-only, or leave the row out"
            )  # a partial row in the table would pass for the budget it names
        info[name] = {
            "params": a.meta.training.get("params"),
            "collected_tokens": a.meta.training.get(
                "lineage_collected_tokens", a.meta.training.get("collected_tokens")
            ),  # a fine-tune: the tokens of its whole lineage
            "trained_tokens": a.meta.training.get("trained_tokens"),
            "rounds": a.meta.training.get("rounds"),
        }
    teachers = [(policy_name(t), t) for t in cfg.base.teacher_mix_specs()[0]]
    out = Path(cfg.run_root)
    cache = out / EVAL_CACHE
    code = _code_digest()
    order = [*teachers, *students, ("zero", "zero")]
    paths: dict[str, Path | None] = {}
    for name, spec in order:
        key = _eval_key(cfg, spec, code)
        paths[name] = cache / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{key}.pkl" if key else None
    todo = [(n, s) for n, s in order if (p := paths[n]) is None or not p.is_file()]
    evaluated = _evaluate_missing(cfg, todo, paths, adapters)
    runs, policies = [], []
    for name, _ in order:
        if name in evaluated:
            got = evaluated[name]
        else:
            got = pickle.loads(paths[name].read_bytes())  # type: ignore[union-attr]
            print(f"{name}: {len(got)} runs from {paths[name]}")
        for r in got:
            r.policy = name
        runs += got
        policies.append(name)
    res = EvalResults(runs, policies)
    clips = len({r.clip for r in runs})
    proto = protocol_text(
        clips,
        cfg.starts,
        (0,),
        cfg.max_seconds,
        False,
        0.0,
        FallConfig.evaluation(),
        TRACKING_FAILURE_EE_HEIGHT,
    )
    write_outputs(res, out / "eval_test", progress=cfg.progress, protocol=proto)
    overall = res.overall()
    doc = {"rows": info, "overall": overall, "paper_sr": PAPER_SR, "table_md": res.table()}
    doc["ordering"] = ordering(rows, overall)
    names = list(info)
    atomic_write_bytes(out / "table.json", json.dumps(doc, indent=1, default=float).encode())
    atomic_write_bytes(out / "table.md", table_md(names, info, overall, doc).encode())
    scaling_plot(names, info, overall, out / "scaling.png")
    return doc


def ordering(rows: list[Row], overall: dict) -> dict[str, bool | None]:
    """The paper's claims checked on our numbers: GPT > TCN > MLP at every budget trained (GPT-S with either
    history semantics, and window vs sliding_kv), and a bigger budget beats a smaller one for the same
    student (None when a row of the claim is missing, e.g. the paper's 2M/20M rows when smaller budgets were
    trained)."""
    sr = {r.name: overall[r.name]["SR"] for r in rows if r.name in overall}

    def gt(a: str, b: str) -> bool | None:
        return None if a not in sr or b not in sr else bool(sr[a] > sr[b])

    def key(kind: str, tokens: int) -> str:
        found = (r.name for r in rows if r.name.split(":")[0] == kind and r.tokens == tokens)
        return next(found, f"{kind}:?")

    claims = {
        "gpt_s:2M > tcn:2M": ("gpt_s:2M", "tcn:2M"),
        "tcn:2M > mlp:2M": ("tcn:2M", "mlp:2M"),
        "gpt_s:20M > gpt_s:2M": ("gpt_s:20M", "gpt_s:2M"),
    }
    for tokens in sorted({r.tokens for r in rows}):
        g, w = key("gpt_s", tokens), key("gpt_s_window", tokens)
        t, m = key("tcn", tokens), key("mlp", tokens)
        for a, b in ((g, t), (t, m), (g, m), (w, t), (w, m), (w, g)):  # (w, g): the history semantics
            if a in sr and b in sr:
                claims.setdefault(f"{a} > {b}", (a, b))
    for kind in sorted({r.name.split(":")[0] for r in rows}):
        budgets = sorted(r.tokens for r in rows if r.name.split(":")[0] == kind)
        for lo, hi in zip(budgets, budgets[1:], strict=False):
            a, b = key(kind, hi), key(kind, lo)
            claims.setdefault(f"{a} > {b}", (a, b))
    return {k: gt(a, b) for k, (a, b) in claims.items()}


def table_md(names: list[str], info: dict, overall: dict, doc: dict) -> str:
    lines = [
        "| student | params | tokens (collected) | SR (ours, test split) | SR (paper, AMASS-test) "
        "| MPJPE (rad) | MPKPE own-heading (mm) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        o, i = overall[name], info[name]
        paper = PAPER_SR.get(name)
        lines.append(
            f"| {name} | {i['params'] / 1e6:.2f}M | {i['collected_tokens']:,} | {100 * o['SR']:.1f} | "
            f"{paper if paper is not None else '-'} | {o['mpjpe']:.4f} | {o['mpkpe_local_mm']:.1f} |"
        )
    checks = "\n".join(f"- {k}: {v}" for k, v in doc["ordering"].items())
    return (
        "\n".join(lines)
        + f"\n\nPaper's ordering on our numbers:\n{checks}\n\nFull table:\n\n{doc['table_md']}\n"
    )


def scaling_plot(names: list[str], info: dict, overall: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    metrics = (
        ("SR", "SR (falls only)"),
        ("mpjpe", "MPJPE [rad]"),
        ("mpkpe_local_mm", "MPKPE own-heading [mm]"),
    )
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for col, (key, label) in enumerate(metrics):
        for rowi, xkey, xlabel in ((0, "collected_tokens", "DAgger tokens"), (1, "params", "parameters")):
            ax = axes[rowi, col]
            for name in names:
                x = info[name][xkey]
                ax.scatter([x], [overall[name][key]], label=name)
                ax.annotate(name, (x, overall[name][key]), fontsize=8)
            ax.set(xscale="log", xlabel=xlabel, ylabel=label)
            xs: list[float] = []  # ticks at the data (log minor labels overlap), none closer than 1.3x
            for x in sorted({info[n][xkey] for n in names}):
                xs += [x] if not xs or x > 1.3 * xs[-1] else []
            ax.set_xticks(xs, [f"{x / 1e6:.3g}M" for x in xs], fontsize=8)
            ax.xaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Students on the corpus test split (unseen clips)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(cfg: TableConfig | None = None) -> dict:
    import tyro

    cfg = cfg or tyro.cli(TableConfig)
    rows = [parse_row(s) for s in cfg.rows]
    if cfg.eval_only and cfg.train_only:
        raise HgptError("--eval-only and --train-only exclude each other")
    if cfg.eval_only:
        missing = [str(p) for r in rows if not (p := row_config(cfg, r).run_dir / "student.pt").is_file()]
        if missing:
            raise HgptError(f"--eval-only: no trained student at {', '.join(missing)} (train the rows first)")
    ckpts = (
        [row_config(cfg, r).run_dir / "student.pt" for r in rows] if cfg.eval_only else train_rows(cfg, rows)
    )
    if cfg.train_only:
        print("\n".join(f"{r.name}: {c}" for r, c in zip(rows, ckpts, strict=True)))
        return {"rows": {r.name: str(c) for r, c in zip(rows, ckpts, strict=True)}}
    doc = evaluate_rows(cfg, rows, ckpts)
    print((Path(cfg.run_root) / "table.md").read_text())
    return doc


if __name__ == "__main__":
    main()
