"""Benchmark: per-step policy latency at batch 1 on this CPU, with ratios to a baseline from the same run.

Cases: MLP baselines and Humanoid-GPT-S/B/L; window recompute (the paper's 32-token window, ``window``
graph) vs KV cache (``kv_step`` graph); fp32 vs int8 weights; 1 and 2 intra-op threads; onnxruntime CPU,
plus PyTorch eager for reference. Every case is timed through ``Policy.step`` (what the policy node calls:
history bookkeeping included) at steady state (history full), in interleaved rounds so that machine noise
spreads evenly over the cases. Baseline: GPT-S window fp32, onnxruntime, 1 thread.

Usage: python benchmarks/bench_policy.py [--quick] [--sizes S B L] [--threads 1 2] [--steps 300]
Timings are never asserted in tests; ``--quick`` is a smoke run (GPT-S and MLP, 1 thread, few steps).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import tyro

from hgpt_policy.config import baseline_config, gpt_config
from hgpt_policy.export import export_onnx
from hgpt_policy.model import build_policy, make_metadata, num_params
from hgpt_policy.quantize import quantization_error, quantize_int8
from hgpt_policy.runtime import Policy

# DESIGN §7 (onnxruntime CPU, 2 threads, this machine kind) and the targets, in ms.
CEILING_MS = {
    ("S", "window", "fp32"): 4.3,
    ("B", "window", "fp32"): 13.0,
    ("L", "window", "fp32"): 41.0,
    ("S", "kv", "fp32"): 1.5,
    ("B", "kv", "fp32"): 4.0,
    ("L", "kv", "fp32"): 13.0,
    ("S", "kv", "int8"): 1.0,
    ("B", "kv", "int8"): 1.8,
    ("L", "kv", "int8"): 4.3,
    ("MLP", "frame", "fp32"): 0.03,
}
TARGET_MS = {"S": 1.0, "B": 2.0, "L": 5.0}
BASELINE = ("GPT-S", "window", "fp32", "onnxruntime", 1)


@dataclass(frozen=True)
class BenchConfig:
    """Policy latency benchmark."""

    quick: bool = False
    """Smoke run: GPT-S and the MLP, 1 thread, a few steps (seconds)."""
    sizes: tuple[str, ...] = ("S", "B", "L")
    """GPT sizes to time."""
    threads: tuple[int, ...] = (1, 2)
    """onnxruntime intra-op thread counts."""
    steps: int = 300
    """Timed steps per case, spread over the rounds (fewer when a case would exceed max_case_s)."""
    rounds: int = 5
    """Interleaved rounds over all cases."""
    max_case_s: float = 3.0
    """Cap on the timed seconds of one case (keeps window-L affordable)."""
    int8: str = "blockwise"
    """int8 method of hgpt_policy.quantize (blockwise MatMulNBits, or dynamic)."""
    spinning: bool = True
    """Let ORT worker threads spin between steps (lower latency, burns the core while idle)."""
    torch_reference: bool = True
    """Also time PyTorch eager (GPT-S window and KV, 1 thread)."""
    out_dir: str | None = None
    """Keep the exported graphs here (default: a temporary folder)."""
    reuse: bool = False
    """Reuse graphs already in out_dir (e.g. export at normal priority, then time under chrt)."""
    export_only: bool = False
    """Export (into out_dir) and stop."""
    histories: tuple[str, ...] = ("frame", "stacked", "window", "kv")
    """Time only these histories (the baseline GPT-S window fp32 1-thread case is always timed)."""
    weights: tuple[str, ...] = ("fp32", "int8")
    """Time only these weight precisions."""
    json_out: str | None = None
    """Write the results as JSON here."""


@dataclass
class Case:
    model: str
    graph: str
    precision: str
    backend: str
    threads: int
    policy: Policy
    times_ms: list[float] = field(default_factory=list)
    n_per_round: int = 0
    int8_rel_err: float | None = None

    @property
    def key(self) -> tuple:
        return self.model, self.graph, self.precision, self.backend, self.threads


def _export(
    cfg, name: str, out: Path, int8: str, state: dict | None = None, reuse: bool = False
) -> tuple[dict[str, Path], dict]:
    """Export one policy's deploy graph (fp32 and int8); returns paths and the weights used (seed 0, so a
    rerun with ``reuse`` rebuilds the same weights without exporting again)."""
    torch.manual_seed(0)
    model = build_policy(cfg).eval()
    if state is not None:
        model.load_state_dict(state)
    graph = "kv_step" if cfg.inference == "sliding_kv" else "window"
    paths = {"fp32": out / f"{name}.{graph}.onnx", "int8": out / f"{name}.{graph}.{int8}.onnx"}
    if not (reuse and all(p.exists() for p in paths.values())):
        export_onnx(model, make_metadata(cfg, name), paths["fp32"], graph)
        quantize_int8(paths["fp32"], paths["int8"], int8)
    return paths, model.state_dict()


def build_cases(cfg: BenchConfig, out: Path) -> list[Case]:
    sizes = ("S",) if cfg.quick else cfg.sizes
    threads = (1,) if cfg.quick else cfg.threads
    specs = [("MLP", "frame", baseline_config("mlp"))]
    if not cfg.quick:
        specs += [
            ("MLP-stacked", "stacked", baseline_config("mlp_stacked")),
            ("TCN", "window", baseline_config("tcn")),
        ]
    cases = []
    for size in sizes:
        specs += [(f"GPT-{size}", "window", gpt_config(size, "window"))]
        specs += [(f"GPT-{size}", "kv", gpt_config(size, "sliding_kv"))]
    weights: dict[str, dict] = {}
    for name, graph, pcfg in specs:
        t0 = time.perf_counter()
        paths, weights[name] = _export(pcfg, f"{name}-{graph}", out, cfg.int8, weights.get(name), cfg.reuse)
        n_params = num_params(build_policy(pcfg)) / 1e6
        print(f"exported {name} {graph} ({n_params:.2f}M) in {time.perf_counter() - t0:.1f} s", flush=True)
        if cfg.export_only:
            continue
        for prec, path in paths.items():
            for n in sorted({*threads, 1}):
                base = (name, graph, prec, "onnxruntime", n) == BASELINE
                if not base and (graph not in cfg.histories or prec not in cfg.weights or n not in threads):
                    continue
                pol = Policy.load(path, "onnxruntime", threads=n, spinning=cfg.spinning)
                cases.append(Case(name, graph, prec, "onnxruntime", n, pol))
        if cfg.torch_reference and name == "GPT-S" and graph in cfg.histories:
            torch.set_num_threads(1)
            model = build_policy(pcfg).eval()
            model.load_state_dict(weights[name])
            cases.append(
                Case(name, graph, "fp32", "torch", 1, Policy.from_model(model, make_metadata(pcfg, name)))
            )
        if (
            graph == "kv" and "int8" in cfg.weights
        ):  # accuracy of int8 on the deployment path (random weights: a sanity check)
            tokens = np.random.default_rng(0).normal(size=(1, 64, pcfg.obs_dim)).astype(np.float32)
            err = quantization_error(paths["fp32"], paths["int8"], tokens)["rel"]
            for c in cases:
                if c.model == name and c.graph == graph and c.precision == "int8":
                    c.int8_rel_err = err
    return cases


def run(cfg: BenchConfig, cases: list[Case]) -> None:
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(256, 161)).astype(np.float32)
    steps = 40 if cfg.quick else cfg.steps
    rounds = 2 if cfg.quick else cfg.rounds
    for c in cases:  # warm up at steady state (full history), estimate the step time
        c.policy.reset()
        warm = []
        for i in range(max(c.policy.h, 8) + 5):
            t0 = time.perf_counter()
            c.policy.step(tokens[i % len(tokens)])
            warm.append(time.perf_counter() - t0)
        est = float(np.median(warm[-5:]))
        c.n_per_round = max(5, min(steps // rounds, int(cfg.max_case_s / rounds / max(est, 1e-6))))
    for r in range(rounds):
        for c in rng.permutation(np.array(cases, dtype=object)):
            if c.backend == "torch":
                torch.set_num_threads(c.threads)
            for i in range(c.n_per_round):
                tok = tokens[(r * c.n_per_round + i) % len(tokens)]
                t0 = time.perf_counter()
                c.policy.step(tok)
                c.times_ms.append(1e3 * (time.perf_counter() - t0))


def table(cases: list[Case]) -> str:
    base = next(c for c in cases if c.key == BASELINE)
    base_med = float(np.median(base.times_ms))
    head = "| model | history | weights | backend | thr | median ms | p99 ms | p5 ms | vs base | target ms |"
    head += " DESIGN ms | int8 err |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    order = {"MLP": 0, "MLP-stacked": 1, "TCN": 2, "GPT-S": 3, "GPT-B": 4, "GPT-L": 5}
    for c in sorted(cases, key=lambda c: (order[c.model], c.graph, c.precision, c.backend, c.threads)):
        med, p99, p5 = (float(np.percentile(c.times_ms, q)) for q in (50, 99, 5))
        size = c.model.removeprefix("GPT-") if c.model.startswith("GPT-") else c.model
        target = TARGET_MS.get(size)
        ceiling = CEILING_MS.get((size, c.graph, c.precision)) if c.backend == "onnxruntime" else None
        mark = "" if target is None else (" ok" if med <= target else " over")
        lines.append(
            f"| {c.model} | {c.graph} | {c.precision} | {c.backend} | {c.threads} | "
            f"{med:.3f} | {p99:.3f} | {p5:.3f} | "
            f"{base_med / med:.2f}x | {'' if target is None else f'{target:.1f}{mark}'} | "
            f"{'' if ceiling is None else f'{ceiling:g}'} | "
            f"{'' if c.int8_rel_err is None else f'{100 * c.int8_rel_err:.2f}%'} |"
        )
    return "\n".join(lines)


def main(cfg: BenchConfig) -> None:
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(cfg.out_dir or tmp)
        out.mkdir(parents=True, exist_ok=True)
        cases = build_cases(cfg, out)
        if cfg.export_only:
            return
        t0 = time.perf_counter()
        run(cfg, cases)
        elapsed = time.perf_counter() - t0
    load1 = os.getloadavg()
    print(
        f"\n{platform.machine()}, {os.cpu_count()} CPUs, onnxruntime {ort.__version__}, "
        f"torch {torch.__version__}; "
        f"batch 1; int8 = {cfg.int8}; load average {load0[0]:.2f} -> {load1[0]:.2f}; timed {elapsed:.0f} s.\n"
        f"vs base = median of ({', '.join(map(str, BASELINE))}) / median of the row; history: window = "
        "recompute the last 32 tokens, kv = KV-cache step, frame / stacked = MLP baselines;\n"
        "p5 = 5th percentile (least disturbed by other load)."
    )
    print(table(cases))
    if cfg.json_out:
        rows = [
            {
                **dict(zip(("model", "graph", "precision", "backend", "threads"), c.key, strict=True)),
                "median_ms": float(np.median(c.times_ms)),
                "p99_ms": float(np.percentile(c.times_ms, 99)),
                "n": len(c.times_ms),
                "int8_rel_err": c.int8_rel_err,
            }
            for c in cases
        ]
        Path(cfg.json_out).write_text(json.dumps({"config": dataclasses.asdict(cfg), "rows": rows}, indent=1))


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
