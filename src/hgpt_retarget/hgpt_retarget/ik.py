"""Differential IK on the G1 with mink: frame tasks, posture regulariser, joint/velocity/collision limits.

One QP per iteration (mink.solve_ik with daqp), a few iterations per frame, warm-started from the
previous frame. Self-collision avoidance covers the cases that matter for human motion: forearms and hands
through the torso, pelvis, head or thighs, and one leg through the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mink
import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, KNEES_BENT_POSE, MOTOR_TYPE, VELOCITY_LIMIT, robot_xml_path


@lru_cache(maxsize=2)
def g1_model(floor: bool = False) -> mujoco.MjModel:
    """The shipped G1 MJCF, compiled once per process (meshes make compiling take ~0.5 s).

    Args:
        floor: Add a ground plane geom ``floor`` at z = 0 (body ids and qpos layout are unchanged).
    """
    if not floor:
        return mujoco.MjModel.from_xml_path(str(robot_xml_path()))
    spec = mujoco.MjSpec.from_file(str(robot_xml_path()))
    spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0.0, 0.0, 0.05])
    return spec.compile()


ARM_GEOMS = ("shoulder_yaw_collision", "elbow_yaw_collision", "wrist_collision", "hand_collision")
BODY_GEOMS = ("torso_collision", "pelvis_collision", "head_collision")
LEG_GEOMS = ("thigh_collision", "shin_collision", "linkage_brace_collision") + tuple(
    f"foot{i}_collision"
    for i in (1, 4, 7)  # toe corners and the sole's centre line
)


@dataclass(frozen=True)
class IKConfig:
    """Solver settings (defaults are the working values)."""

    iterations: int = 3
    """QP iterations per frame after the first (warm start from the previous frame)."""
    init_iterations: int = 1500
    """Most iterations for the first frame (from the knees-bent pose), which is solved to convergence."""
    tolerance: float = 2e-3
    """Stop iterating once the largest joint step of an iteration is below this [rad]."""
    init_tolerance: float = 1e-4
    """The first frame is converged once the largest joint step of an iteration is below this [rad]."""
    damping: float = 1.0
    """Levenberg-Marquardt damping on every dof of the QP (1.0 cut output jerk 3x at equal tracking error)."""
    task_lm_damping: float = 0.5
    """mink FrameTask lm_damping: softens unreachable targets."""
    posture_cost: float = 0.03
    """Posture regulariser cost on joints that targets observe [1/rad]."""
    wrist_posture_cost: float = 0.5
    """Posture cost on the six wrist joints (no human landmark observes them) [1/rad]."""
    velocity_fraction: float = 1.0
    """Fraction of the motor speed limits (g1.VELOCITY_LIMIT) allowed between frames."""
    self_collision: bool = True
    """Keep arms out of the torso/pelvis/head/thighs and the legs apart (mink CollisionAvoidanceLimit)."""
    floor: bool = True
    """Keep the foot soles above the floor plane z = 0 (a swinging toe must not dig in)."""
    collision_margin: float = 0.01
    """Minimum distance kept between those geoms [m]."""
    collision_detection: float = 0.06
    """Distance below which a geom pair enters the QP [m]."""
    collision_push: float = 0.002
    """Separation demanded per iteration of pairs at the margin or inside each other [m] (mink
    bound_relaxation = -push): without it a pair that starts inside (hands clasped) stays inside."""
    solver: str = "daqp"
    """qpsolvers backend."""


@dataclass(frozen=True)
class FrameTargets:
    """IK targets of one frame for B bodies (robot scale, world frame), as :meth:`G1IK.solve` takes them.

    Shapes: pos (B, 3) [m], quat (B, 4) wxyz, pos_cost / ori_cost (B,) (0 disables a task), chain_dir (B, 3)
    unit, chain_len (B,) [m]; ``chain_parent[b]`` is the index of the body a chained target hangs from, or -1
    (see :class:`hgpt_retarget.targets.TargetSeq`, the same for a whole clip).
    """

    pos: np.ndarray
    quat: np.ndarray
    pos_cost: np.ndarray
    ori_cost: np.ndarray
    chain_parent: tuple[int, ...]
    chain_dir: np.ndarray
    chain_len: np.ndarray


def _collision_pairs(model: mujoco.MjModel) -> list[tuple[list[str], list[str]]]:
    names = {model.geom(i).name for i in range(model.ngeom)}
    sides = ("left", "right")
    arms = [f"{s}_{g}" for s in sides for g in ARM_GEOMS if f"{s}_{g}" in names]
    trunk = [g for g in BODY_GEOMS if g in names]
    thighs = [f"{s}_{g}" for s in sides for g in ("hip_collision", "thigh_collision") if f"{s}_{g}" in names]
    legs = [[f"{s}_{g}" for g in LEG_GEOMS if f"{s}_{g}" in names] for s in sides]
    left_arm, right_arm = arms[: len(arms) // 2], arms[len(arms) // 2 :]
    return [(arms, trunk + thighs), (left_arm, right_arm), (legs[0], legs[1])]


class DisplacementCollisionLimit(mink.CollisionAvoidanceLimit):
    """mink's collision limit with its bound as a displacement, like the other limits.

    mink 1.3 bounds the normal *displacement* of a pair by ``gain * (d - d_min) / dt``: at dt = 0.02 s
    that lets geoms 5 cm apart close 2.1 m in one step, so fast limbs tunnel through each other. The
    bound here is ``gain * (d - d_min)`` (mink's own formula evaluated with dt = 1).
    """

    def compute_qp_inequalities(self, configuration: mink.Configuration, dt: float) -> mink.Constraint:
        return super().compute_qp_inequalities(configuration, 1.0)


class G1IK:
    """Stateful IK solver: ``reset`` once, then ``solve`` per frame (warm start)."""

    def __init__(self, bodies: tuple[str, ...], cfg: IKConfig = IKConfig()) -> None:
        self.cfg = cfg
        self.model = g1_model(floor=cfg.floor)
        m = self.model
        self.configuration = mink.Configuration(m)
        self.bodies = bodies
        self.body_ids = np.array([m.body(b).id for b in bodies])
        self.tasks = [
            mink.FrameTask(b, "body", position_cost=0.0, orientation_cost=0.0, lm_damping=cfg.task_lm_damping)
            for b in bodies
        ]
        cost = np.zeros(m.nv)
        cost[6:] = [cfg.wrist_posture_cost if "wrist" in n else cfg.posture_cost for n in G1_JOINT_NAMES]
        self.posture = mink.PostureTask(m, cost=cost)
        q0 = np.zeros(m.nq)
        q0[3] = 1.0
        self.posture.set_target(q0)
        vmax = {
            n: cfg.velocity_fraction * VELOCITY_LIMIT[t]
            for n, t in zip(G1_JOINT_NAMES, MOTOR_TYPE, strict=True)
        }
        self.base_limits: list = [mink.ConfigurationLimit(m)]
        if cfg.self_collision:
            self.base_limits.append(
                DisplacementCollisionLimit(
                    m,
                    _collision_pairs(m),
                    minimum_distance_from_collisions=cfg.collision_margin,
                    collision_detection_distance=cfg.collision_detection,
                    bound_relaxation=-cfg.collision_push,
                )
            )
        if cfg.floor:
            feet = [m.geom(i).name for i in range(m.ngeom) if "_foot" in m.geom(i).name]
            self.base_limits.append(
                DisplacementCollisionLimit(
                    m,
                    [(feet, ["floor"])],
                    minimum_distance_from_collisions=0.0,
                    collision_detection_distance=0.03,
                )
            )
        self._vmax = vmax
        self.infeasible = 0  # QP iterations that had to drop the collision limits
        self._vel_limits: dict[int, mink.VelocityLimit] = {}
        self._identity_wxyz = np.array([1.0, 0.0, 0.0, 0.0])
        self.last_step = 0.0  # largest joint step of the last QP iteration [rad]
        self.last_iterations = 0  # QP iterations of the last solve

    def velocity_limit(self, iterations: int) -> mink.VelocityLimit:
        """Per-iteration share of the speed limit, so that a whole frame respects it."""
        if iterations not in self._vel_limits:
            v = {n: x / iterations for n, x in self._vmax.items()}
            self._vel_limits[iterations] = mink.VelocityLimit(self.model, v)
        return self._vel_limits[iterations]

    @property
    def qpos(self) -> np.ndarray:
        """Current configuration (36,): root pos, root quat wxyz, 29 joints."""
        return self.configuration.q.copy()

    def reset(self, root_pos: np.ndarray, root_quat: np.ndarray, joint_pos: np.ndarray | None = None) -> None:
        """Start from a pose (joints default to the knees-bent pose, arms clear of the body), clamped."""
        m = self.model
        q = np.zeros(m.nq)
        q[:3], q[3:7] = root_pos, root_quat / np.linalg.norm(root_quat)
        q[7:] = KNEES_BENT_POSE if joint_pos is None else joint_pos
        q[7:] = np.clip(q[7:], m.jnt_range[1:, 0], m.jnt_range[1:, 1])
        self.configuration.update(q)

    def _set_targets(self, tg: FrameTargets, first: bool) -> list:
        """Set task targets; on later iterations only chained targets move (their anchors moved)."""
        pos, quat, pos_cost, ori_cost = tg.pos, tg.quat, tg.pos_cost, tg.ori_cost
        parents, chain_dir, chain_len = tg.chain_parent, tg.chain_dir, tg.chain_len
        xpos = self.configuration.data.xpos
        placed = pos.copy()
        active = []
        for b, task in enumerate(self.tasks):
            chained = parents[b] >= 0
            if chained:
                p = parents[b]
                anchor = placed[p] if parents[p] >= 0 else xpos[self.body_ids[p]]
                placed[b] = anchor + chain_len[b] * chain_dir[b]
            if pos_cost[b] <= 0 and ori_cost[b] <= 0:
                continue
            if first:  # costs were validated (>= 0) when the mapping was parsed: write them directly
                task.cost[:3] = pos_cost[b]
                task.cost[3:] = ori_cost[b]
            if first or chained:
                wxyz = quat[b] if ori_cost[b] > 0 else self._identity_wxyz
                task.transform_target_to_world = mink.SE3(np.concatenate((wxyz, placed[b])))
            active.append(task)
        return active

    def solve(
        self,
        targets: FrameTargets,
        dt: float,
        iterations: int | None = None,
        velocity_limit: bool = True,
        tolerance: float | None = None,
    ) -> np.ndarray:
        """Track one frame of targets from the current configuration; returns qpos (36,).

        Args:
            targets: The frame's targets (B bodies, world frame; costs 0 disable a task).
            dt: Time since the previous frame [s] (scales the velocity limit).
            iterations: QP iterations (default ``cfg.iterations``).
            velocity_limit: Apply the joint speed limit (per iteration; off only for tests).
            tolerance: Stop once an iteration's largest joint step is below this [rad] (default
                ``cfg.tolerance``); ``last_step`` and ``last_iterations`` tell where it stopped.
        """
        tolerance = self.cfg.tolerance if tolerance is None else tolerance
        n = iterations or self.cfg.iterations
        # Each iteration may use 1/cfg.iterations of the frame's speed budget, so a normal frame respects
        # the limit; a long first solve takes 4x smaller steps (large steps jump through the linearised
        # collision constraints).
        share = self.cfg.iterations if n <= self.cfg.iterations else 4 * self.cfg.iterations
        speed = [self.velocity_limit(share)] if velocity_limit else []
        cfg = self.configuration
        for it in range(n):
            active = self._set_targets(targets, it == 0)
            tasks = [*active, self.posture]
            try:
                v = mink.solve_ik(
                    cfg, tasks, dt, self.cfg.solver, self.cfg.damping, limits=self.base_limits + speed
                )
            except mink.NoSolutionFound:  # collision constraints in conflict: keep the joint limits only
                self.infeasible += 1
                v = mink.solve_ik(
                    cfg, tasks, dt, self.cfg.solver, self.cfg.damping, limits=self.base_limits[:1]
                )
            cfg.integrate_inplace(v, dt)
            self.last_step, self.last_iterations = float(np.abs(v[6:]).max() * dt), it + 1
            if self.last_step < tolerance:
                break
        return cfg.q.copy()

    def residual(self, pos_cost: np.ndarray, ori_cost: np.ndarray) -> tuple[float, float]:
        """Largest position [m] and orientation [rad] error of the active frame tasks at the current pose.

        Uses the targets of the last :meth:`solve` (chained targets as last placed). Tasks conflict (human
        proportions, posture, limits), so a converged frame still has a residual; it is reported, not zero.
        """
        data = self.configuration.data
        pos_err, ori_err = 0.0, 0.0
        for b, task in enumerate(self.tasks):
            if task.transform_target_to_world is None or (pos_cost[b] <= 0 and ori_cost[b] <= 0):
                continue
            target = task.transform_target_to_world.wxyz_xyz
            if pos_cost[b] > 0:
                pos_err = max(pos_err, float(np.linalg.norm(data.xpos[self.body_ids[b]] - target[4:])))
            if ori_cost[b] > 0:
                dot = abs(float(np.dot(data.xquat[self.body_ids[b]], target[:4])))
                ori_err = max(ori_err, 2.0 * float(np.arccos(min(dot, 1.0))))
        return pos_err, ori_err
