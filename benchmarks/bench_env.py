"""Tracking-env throughput vs raw ``mujoco.rollout`` on the same physics work, for 1 / 64 / 1024 envs.

The env is stepped with actions that drive the PD targets to the next reference pose (robots move, fall
and auto-reset as in training). After every env step, the physics call it made (same full states and
controls) is replayed through a bare ``mujoco.rollout`` pool with the same thread count, so both timings
share the machine's load at that moment: the ratio raw / env time is the share of the env's time spent
simulating (target >= 0.8). Latency = wall time of one ``env.step``.

    PYTHONPATH=src/hgpt_core:src/hgpt_sim .venv/bin/python benchmarks/bench_env.py [--quick] [--dr]
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import mujoco
import numpy as np
import torch
import tyro
from mujoco import rollout

from hgpt_core.datasets import shared_data_dir
from hgpt_core.g1 import KNEES_BENT_POSE, KNEES_BENT_ROOT_Z
from hgpt_core.motion import MotionClip
from hgpt_core.reference import ReferenceMotion
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.randomization import DRConfig
from hgpt_sim.references import MotionBank


@dataclass(frozen=True)
class Args:
    """Benchmark settings."""

    quick: bool = False
    """Smoke run: 1/16/64 envs, few steps."""
    num_envs: tuple[int, ...] = (1, 64, 1024)
    nthread: int = 2
    steps: int = 0
    """Control steps per size (0: 400 / 100 / 30 for 1 / 64 / 1024 envs)."""
    dr: bool = False
    """Table 1 randomisation (per-env models, pushes; no terrain)."""


def motions() -> MotionBank:
    root = shared_data_dir()
    if root is not None:
        files = ["lafan1/walk1_subject1.csv", "lafan1/run1_subject2.csv", "gmt/squat.pkl"]
        return MotionBank.from_files([root / "motions/g1" / f for f in files])
    t = 200  # no shared data: a standing clip keeps the benchmark runnable
    clip = MotionClip(
        np.tile([0, 0, KNEES_BENT_ROOT_Z], (t, 1)),
        np.tile([1.0, 0, 0, 0], (t, 1)),
        np.tile(KNEES_BENT_POSE, (t, 1)),
        50,
    )
    return MotionBank([ReferenceMotion.from_clip(clip)])


class Recorder:
    """Wraps the backend's rollout pool call to keep its inputs for the raw replay."""

    def __init__(self, backend) -> None:
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []
        self.pool = backend.pool
        self.inner = backend.pool.rollout

        def rollout_and_record(models, datas, initial_state, ctrl, **kw):
            self.calls.append((initial_state.copy(), ctrl.copy()))
            return self.inner(models, datas, initial_state, ctrl, **kw)

        backend.pool.rollout = rollout_and_record


def bench(n: int, steps: int, args: Args, bank: MotionBank) -> dict:
    cfg = EnvConfig(num_envs=n, nthread=args.nthread, dr=DRConfig.paper() if args.dr else DRConfig())
    env = TrackingEnv(cfg, bank)
    rec = Recorder(env.backend)
    models = env.backend._model_list
    nsub, nstate = env.decimation, env.backend.nstate
    out = np.empty((n, nsub, nstate))
    sens = np.empty((n, nsub, env.backend.base.nsensordata))
    pool = rollout.Rollout(nthread=args.nthread)
    datas = [mujoco.MjData(models[0]) for _ in range(max(1, args.nthread))]
    for _ in range(3):  # warm-up (allocations, first resets)
        env.step(torch.zeros(n, 29))
    t_env, t_raw, lat = 0.0, 0.0, []
    for _ in range(steps):
        act = (env.reference(1).joint_pos - env.default_pose) / env.action_scale
        a = torch.from_numpy(act).float()
        rec.calls.clear()
        t0 = time.perf_counter()
        env.step(a)
        dt = time.perf_counter() - t0
        t_env += dt
        lat.append(dt)
        # Replay the same physics right away through a bare pool: both timings see the same machine load.
        state, ctrl = rec.calls[0]
        t0 = time.perf_counter()
        pool.rollout(models, datas, state, ctrl, nstep=nsub, state=out, sensordata=sens, skip_checks=True)
        t_raw += time.perf_counter() - t0
    pool.close()
    env.close()
    lat_ms = 1e3 * np.asarray(lat)
    return {
        "envs": n,
        "env_steps_s": n * steps / t_env,
        "raw_steps_s": n * steps / t_raw,
        "ratio": t_raw / t_env,
        "median_ms": float(np.median(lat_ms)),
        "p99_ms": float(np.percentile(lat_ms, 99)),
        "physics_steps_s": n * steps * nsub / t_raw,
    }


def main() -> None:
    args = tyro.cli(Args)
    sizes = (1, 16, 64) if args.quick else args.num_envs
    default_steps = {1: 400, 16: 200, 64: 100, 1024: 30}
    bank = motions()
    rows = []
    for n in sizes:
        steps = args.steps or (20 if args.quick else default_steps.get(n, max(30, 6400 // n)))
        rows.append(bench(n, steps, args, bank))
    print(f"\nTracking env vs raw mujoco.rollout, {args.nthread} threads, decimation 4, dr={args.dr}")
    print("| envs | env-steps/s | raw env-steps/s | ratio | step median ms | step p99 ms | phys steps/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['envs']} | {r['env_steps_s']:.0f} | {r['raw_steps_s']:.0f} | {r['ratio']:.2f} | "
            f"{r['median_ms']:.2f} | {r['p99_ms']:.2f} | {r['physics_steps_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
