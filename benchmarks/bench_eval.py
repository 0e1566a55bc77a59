"""``hgpt eval`` throughput: all runs of a policy in one batched env vs one process (and env) per run.

Both paths run the same plan (the shared default clips x ``starts`` x ``seeds``, each run capped at
``max_seconds``) in the same invocation, one after the other, and must give identical metrics (checked:
every per-step error of every run). Reported per path: runs per minute (wall time of the whole evaluation,
process start-up and clip loading included), the wall time of one control step (median and p99: one env in
the process path, the whole batch in the batched path) and the ratio of runs per minute to the process path.

    taskset -c 0 .venv/bin/python benchmarks/bench_eval.py                 # twist2, 8 clips x 3 starts, 5 s
    taskset -c 0 .venv/bin/python benchmarks/bench_eval.py --max-seconds 20 --workers 2
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import tyro

from hgpt_sim.eval_clips import DEFAULT_CLIPS
from hgpt_sim.eval_runner import evaluate_policies


@dataclass(frozen=True)
class Args:
    """Benchmark settings."""

    policy: str = "twist2"
    clips: tuple[str, ...] = DEFAULT_CLIPS
    starts: int = 3
    seeds: tuple[int, ...] = (0,)
    max_seconds: float = 5.0
    """Cap of each run [s]."""
    workers: int = 2
    """Processes of the per-process path (today's default 2; a row with 1 = one env per run in this
    process, no spawn, is added)."""
    nthread: int = 1
    """Physics threads of the batched env."""
    progress: bool = False


def measure(args: Args, mode: str, workers: int):
    t0 = time.perf_counter()
    res = evaluate_policies(
        [args.policy], args.clips, starts=args.starts, seeds=args.seeds, max_seconds=args.max_seconds,
        mode=mode, workers=workers, nthread=args.nthread, progress=args.progress,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    steps = {id(r.step_s): r.step_s for r in res.runs if r.step_s is not None}
    step_s = np.concatenate(list(steps.values()))
    run_steps = sum(r.steps for r in res.runs)
    return res, wall, step_s, run_steps


def identical(a, b) -> bool:
    for x, y in zip(a.runs, b.runs, strict=True):
        if (x.clip, x.start_frame, x.seed, x.steps, x.fell) != (
            y.clip,
            y.start_frame,
            y.seed,
            y.steps,
            y.fell,
        ):
            return False
        if any(not np.array_equal(x.errors[m], y.errors[m]) for m in x.errors):
            return False
    return True


def main(args: Args) -> None:
    rows = []
    results = {}
    paths = [("process", args.workers), ("process", 1), ("batched", 0)]
    paths = list(dict.fromkeys(paths))
    for mode, workers in paths:
        name = f"process, {workers} worker(s)" if mode == "process" else "batched, one env"
        res, wall, step_s, run_steps = measure(args, mode, workers)
        results[name] = res
        rows.append((name, len(res.runs), wall, 60.0 * len(res.runs) / wall, step_s, run_steps / wall))
        print(f"{name}: {len(res.runs)} runs in {wall:.1f} s", flush=True)
    first = next(iter(results.values()))
    same = {k: identical(first, v) for k, v in results.items()}
    base = rows[0][3]
    print(
        f"\n{args.policy}, {len(args.clips)} clips x {args.starts} starts x {len(args.seeds)} seeds, "
        f"runs capped at {args.max_seconds:g} s; batched: {args.nthread} physics thread(s); ratio = runs/min "
        "over the first row's\n"
    )
    print(
        "| path | runs | wall s | runs/min | step median ms | step p99 ms | run-steps/s | ratio | metrics |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for i, (mode, n, wall, rpm, step_s, rs) in enumerate(rows):
        med, p99 = np.median(step_s) * 1e3, np.percentile(step_s, 99) * 1e3
        same_cell = "baseline" if i == 0 else ("identical" if same[mode] else "DIFFER")
        cells = (
            mode,
            n,
            f"{wall:.1f}",
            f"{rpm:.1f}",
            f"{med:.2f}",
            f"{p99:.2f}",
            f"{rs:.0f}",
            f"{rpm / base:.2f}",
        )
        print("| " + " | ".join(map(str, (*cells, same_cell))) + " |")
    if not all(same.values()):
        raise SystemExit("batched and per-process metrics differ")


if __name__ == "__main__":
    main(tyro.cli(Args))
