"""What one evaluation run is and what it gave (:class:`RunSpec`, :class:`RunResult`) and the run plan
of a clip set (starts x seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

TRACKING_FAILURE_EE_HEIGHT = 0.25
"""[m] a hand or foot this far above or below its reference height is a tracking failure (not a fall)."""


@dataclass(frozen=True)
class RunSpec:
    """One run: clip index in the bank, first reference frame, seed, control steps to score."""

    clip: int
    start: int
    seed: int
    steps: int


@dataclass
class RunResult:
    """One (policy, clip, start, seed) run. ``errors[name]`` is (T,) per scored step.

    ``steps``: control steps run (to the fall, inclusive, or ``planned_steps``); the fall step is not
    scored, so a run that fell has ``steps - 1`` scored steps.
    """

    clip: str
    seed: int
    frames: int
    steps: int
    fell: bool
    fall_reason: str
    errors: dict[str, np.ndarray] = field(default_factory=dict)
    qpos: np.ndarray | None = None
    ref_qpos: np.ndarray | None = None
    wall_s: float = 0.0
    control_dt: float = 0.02
    policy: str = ""
    start_frame: int = 0
    planned_steps: int = 0
    tracking_failure_step: int = -1
    """First scored step with a hand/foot height error over the threshold (-1: none)."""
    label: str = ""
    step_s: np.ndarray | None = None
    """Wall time [s] of each control step of the env that ran this run (shared by a batch's runs)."""

    @property
    def scored_steps(self) -> int:
        return len(next(iter(self.errors.values()))) if self.errors else 0

    @property
    def start_s(self) -> float:
        return self.start_frame * self.control_dt

    @property
    def fall_time_s(self) -> float:
        """Time of the fall from the run's start [s] (nan: no fall)."""
        return self.steps * self.control_dt if self.fell else float("nan")

    @property
    def tracking_failed(self) -> bool:
        return self.tracking_failure_step >= 0

    @property
    def tracking_failure_s(self) -> float:
        """Time of the first tracking failure from the run's start [s] (nan: none)."""
        return self.tracking_failure_step * self.control_dt if self.tracking_failed else float("nan")

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(v)) if len(v) else float("nan") for k, v in self.errors.items()}


def plan_runs(
    lengths: Sequence[int], starts: int, seeds: Sequence[int], max_steps: int | None
) -> list[RunSpec]:
    """Runs of every clip: start frames ``floor(j T / S)`` (j < S, each leaving at least one step),
    ``min(T - 1 - start, max_steps)`` steps each, once per seed; clip-major order."""
    if starts < 1:
        raise ValueError(f"starts must be >= 1, got {starts}")
    runs = []
    for c, t in enumerate(lengths):
        firsts = sorted({min(j * int(t) // starts, int(t) - 2) for j in range(starts)})
        for s in firsts:
            steps = int(t) - 1 - s if max_steps is None else min(int(t) - 1 - s, max_steps)
            runs += [RunSpec(c, s, seed, steps) for seed in seeds]
    return runs
