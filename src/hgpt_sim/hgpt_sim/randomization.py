"""Domain randomisation of the supplementary's Table 1, each item switchable, sampled per env per episode.

Physical items (friction, terrain, joint friction, armature, torso CoM and mass) need one MjModel per env
(``RolloutBackend(per_env_models=True)``); pushes change the root velocity between control steps; the
default-pose jitter is a per-env offset on the PD targets (a joint calibration error the policy cannot
see: its observation still uses the nominal default pose).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgpt_core.g1 import NUM_JOINTS
from hgpt_sim.backend import ModelParams
from hgpt_sim.model import TerrainSpec

Range = tuple[float, float]


@dataclass(frozen=True)
class DRConfig:
    """Which randomisations are on, and their ranges (defaults = Table 1). All off by default."""

    friction: bool = False
    friction_range: Range = (0.3, 2.0)
    """Sliding friction of floor and feet."""
    terrain: bool = False
    """Height-field terrain (slower contacts: off unless asked)."""
    terrain_spec: TerrainSpec = TerrainSpec()
    noise_scale: Range = (10.0, 16.0)
    """Base wavelength of the noise [grid cells]."""
    noise_octaves: Range = (5.0, 8.0)
    noise_persistence: Range = (0.3, 0.5)
    noise_lacunarity: Range = (2.0, 4.0)
    terrain_flat_radius_m: float = 0.75
    """The field is flattened within this radius of the start position, so the robot starts on it."""
    push: bool = False
    push_interval_s: Range = (5.0, 10.0)
    push_velocity: Range = (0.1, 1.0)
    """Magnitude [m/s] of a horizontal velocity change of the root, random direction."""
    dof_friction: bool = False
    dof_friction_scale: Range = (0.5, 2.0)
    dof_friction_nominal: float = 0.1
    """Joint dry friction [N m] that the scale multiplies (the shipped MJCF has none)."""
    armature: bool = False
    armature_scale: Range = (1.0, 1.05)
    torso_com: bool = False
    torso_com_range: Range = (-0.15, 0.15)
    """Per axis [m]."""
    torso_mass: bool = False
    torso_mass_range: Range = (-3.0, 6.0)
    """[kg]."""
    default_jitter: bool = False
    default_jitter_range: Range = (-0.05, 0.05)
    """Per joint [rad]."""

    @classmethod
    def paper(cls, terrain: bool = False) -> DRConfig:
        """Every item of Table 1 on (terrain only if asked)."""
        return cls(
            friction=True,
            terrain=terrain,
            push=True,
            dof_friction=True,
            armature=True,
            torso_com=True,
            torso_mass=True,
            default_jitter=True,
        )

    @property
    def needs_model_copies(self) -> bool:
        return (
            self.friction
            or self.terrain
            or self.dof_friction
            or self.armature
            or self.torso_com
            or self.torso_mass
        )


def _u(rng: np.random.Generator, r: Range, size) -> np.ndarray:
    return rng.uniform(r[0], r[1], size)


def sample_model_params(
    rng: np.random.Generator, n: int, cfg: DRConfig, start_xy: np.ndarray | None = None
) -> ModelParams:
    """Draw physical parameters for ``n`` envs; disabled items stay None (the model keeps its nominal)."""
    p = ModelParams()
    if cfg.friction:
        p.friction = _u(rng, cfg.friction_range, n)
    if cfg.dof_friction:
        p.dof_frictionloss = cfg.dof_friction_nominal * _u(rng, cfg.dof_friction_scale, (n, NUM_JOINTS))
    if cfg.armature:
        p.armature_scale = _u(rng, cfg.armature_scale, (n, NUM_JOINTS))
    if cfg.torso_com:
        p.torso_com_offset = _u(rng, cfg.torso_com_range, (n, 3))
    if cfg.torso_mass:
        p.torso_mass_delta = _u(rng, cfg.torso_mass_range, n)
    if cfg.terrain:
        xy = np.zeros((n, 2)) if start_xy is None else np.asarray(start_xy)[:, :2]
        p.terrain = np.stack([terrain_noise(rng, cfg) for _ in range(n)])
        p.terrain_origin = xy.copy()
    return p


def terrain_noise(rng: np.random.Generator, cfg: DRConfig) -> np.ndarray:
    """Fractal value noise in [0, 1] on the terrain grid, flat (0) around the centre. Shape: (cells, cells).

    Octave o has frequency ``lacunarity**o / scale`` [1/cell] and amplitude ``persistence**o``.
    """
    spec = cfg.terrain_spec
    n = spec.cells
    scale = _u(rng, cfg.noise_scale, None)
    octaves = int(np.floor(_u(rng, cfg.noise_octaves, None)))
    persistence = _u(rng, cfg.noise_persistence, None)
    lacunarity = _u(rng, cfg.noise_lacunarity, None)
    grid = np.arange(n, dtype=np.float64)
    h = np.zeros((n, n))
    for o in range(octaves):
        freq = lacunarity**o / scale
        if freq > 1.0:  # finer than the grid: nothing left to resolve
            break
        h += persistence**o * _value_noise(rng, grid * freq)
    h -= h.min()
    h /= max(h.max(), 1e-9)
    r = np.hypot(*np.meshgrid(grid - n // 2, grid - n // 2, indexing="ij")) * spec.resolution_m
    return np.where(r < cfg.terrain_flat_radius_m, 0.0, h)


def _value_noise(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Smooth random field: lattice values at integer coordinates, smoothstep-interpolated. (n,) -> (n, n)."""
    m = int(np.ceil(x[-1])) + 2
    lattice = rng.uniform(-1.0, 1.0, (m, m))
    i = np.floor(x).astype(np.int64)
    t = x - i
    s = t * t * (3 - 2 * t)
    a, b = i[:, None], i[None, :]
    sx, sy = s[:, None], s[None, :]
    top = lattice[a, b] * (1 - sy) + lattice[a, b + 1] * sy
    bot = lattice[a + 1, b] * (1 - sy) + lattice[a + 1, b + 1] * sy
    return top * (1 - sx) + bot * sx


class PushSchedule:
    """Per-env random pushes: a horizontal root velocity change every U(interval) seconds."""

    def __init__(self, n: int, cfg: DRConfig, control_dt: float) -> None:
        self.cfg, self.dt = cfg, control_dt
        self.next_push = np.full(n, np.inf)

    def reset(self, rng: np.random.Generator, env_ids: np.ndarray, time_s: np.ndarray) -> None:
        """Schedule the first push of episodes starting at ``time_s`` [s]."""
        if self.cfg.push:
            self.next_push[env_ids] = time_s + _u(rng, self.cfg.push_interval_s, len(env_ids))

    def due(self, rng: np.random.Generator, time_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(env ids to push now, their velocity changes (n, 3) [m/s]); reschedules them."""
        ids = np.flatnonzero(time_s >= self.next_push)
        mag = _u(rng, self.cfg.push_velocity, len(ids))
        ang = rng.uniform(-np.pi, np.pi, len(ids))
        dv = np.stack((mag * np.cos(ang), mag * np.sin(ang), np.zeros(len(ids))), axis=-1)
        self.next_push[ids] = time_s[ids] + _u(rng, self.cfg.push_interval_s, len(ids))
        return ids, dv
