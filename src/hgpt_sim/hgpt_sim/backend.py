"""Physics backends: the only code that steps MuJoCo. Rewards, observations and training see numpy arrays.

:class:`Backend` is the seam for a GPU implementation (MuJoCo Warp / MJX): it owns N robots, takes PD
targets for N robots, advances them ``nsub`` physics steps and returns a :class:`PhysicsState`.
:class:`RolloutBackend` is the CPU implementation on ``mujoco.rollout`` (C threads, one MjData per thread).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Protocol

import mujoco
import numpy as np
from mujoco import rollout

from hgpt_core.g1 import KEYPOINT_BODIES, NUM_JOINTS
from hgpt_core.rotations import cross
from hgpt_core.state import ROOT_QPOS, ROOT_QVEL, RobotState
from hgpt_sim.model import (
    SELF_CONTACT_SENSOR,
    TERRAIN_GEOM,
    Actuation,
    TerrainSpec,
    apply_actuation,
    build_physics_model,
    pd_torque,
)

_FULL = mujoco.mjtState.mjSTATE_FULLPHYSICS
_CTRL = int(mujoco.mjtState.mjSTATE_CTRL)


@dataclass(kw_only=True, slots=True)
class PhysicsState(RobotState):
    """Robot state after a control step (sim truth: every :class:`~hgpt_core.state.RobotState` field is set),
    plus the simulator's flags of that step. Leading shape (N,); bodies: the backend's ``body_names`` (K).

    Attributes:
        self_contact: Physics steps of the last control step with robot-robot contact, (N,).
        diverged: MuJoCo hit an instability warning (and reset the data) during the last step, (N,).
    """

    root_pos_w: np.ndarray  # (the RobotState fields that may be None elsewhere are always set here)
    root_lin_vel_w: np.ndarray
    body_pos_w: np.ndarray
    body_quat_w: np.ndarray
    body_lin_vel_w: np.ndarray
    self_contact: np.ndarray
    diverged: np.ndarray

    def assign(self, idx: np.ndarray, part: RobotState) -> None:
        """Overwrite rows ``idx`` with ``part`` (a state read for those envs only), flags included."""
        RobotState.assign(self, idx, part)  # (no zero-argument super() in a slots dataclass)
        if isinstance(part, PhysicsState):
            self.self_contact[idx], self.diverged[idx] = part.self_contact, part.diverged


@dataclass
class ModelParams:
    """Per-env physical parameters for domain randomisation; every field has leading shape (n,) or None.

    Attributes:
        friction: Sliding friction of floor, terrain and feet, (n,).
        dof_frictionloss: Joint dry friction [N m], (n, 29).
        armature_scale: Multiplier on the nominal rotor armature, (n, 29).
        torso_com_offset: Added to the torso CoM [m], (n, 3).
        torso_mass_delta: Added to the torso mass [kg] (inertia scaled with it), (n,).
        terrain: Height field values in [0, 1], (n, cells, cells).  terrain_origin: Field centre [m], (n, 2).
    """

    friction: np.ndarray | None = None
    dof_frictionloss: np.ndarray | None = None
    armature_scale: np.ndarray | None = None
    torso_com_offset: np.ndarray | None = None
    torso_mass_delta: np.ndarray | None = None
    terrain: np.ndarray | None = None
    terrain_origin: np.ndarray | None = None


class Backend(Protocol):
    """N independent G1 simulations stepped together. Arrays are float64 numpy, rows = env ids."""

    num_envs: int
    body_names: tuple[str, ...]

    def configure(self, actuation: Actuation) -> None:
        """Set gains, torque limits, time step and integrator for every env."""
        ...

    def set_model_params(self, env_ids: np.ndarray, params: ModelParams) -> None:
        """Write per-env physical parameters (None fields restore nothing and change nothing)."""
        ...

    def set_state(self, env_ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Teleport envs: qpos (n, 36), qvel (n, 35)."""
        ...

    def step(self, targets: np.ndarray, nsub: int) -> None:
        """Hold PD targets (N, 29) [rad] for ``nsub`` physics steps."""
        ...

    def read(self, env_ids: np.ndarray | None = None) -> PhysicsState:
        """State of the given envs (default all) after the last step / set_state."""
        ...


class RolloutBackend:
    """CPU backend: ``mujoco.rollout`` over a persistent thread pool, FK of the final states in one MjData.

    Args:
        num_envs: N.
        nthread: Threads of the rollout pool (0 = calling thread).
        per_env_models: One MjModel copy per env (needed for randomised physical parameters).
        terrain: Compile a height field into every model.
        body_names: Bodies whose poses and velocities :meth:`read` returns.
    """

    def __init__(
        self,
        num_envs: int,
        nthread: int = 2,
        per_env_models: bool = False,
        terrain: TerrainSpec | None = None,
        body_names: tuple[str, ...] = KEYPOINT_BODIES,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs, self.body_names, self.terrain = num_envs, tuple(body_names), terrain
        self.base = build_physics_model(terrain)
        self.models = [copy.copy(self.base) for _ in range(num_envs)] if per_env_models else None
        self._model_list = self.models if self.models is not None else [self.base] * num_envs
        self.pool = rollout.Rollout(nthread=nthread)
        self.datas = [mujoco.MjData(self.base) for _ in range(max(1, nthread))]
        self._fk = mujoco.MjData(self.base)
        self.nstate = mujoco.mj_stateSize(self.base, _FULL)
        # Rows of self.state (mjSTATE_FULLPHYSICS): time | qpos (nq) | qvel (nv) | the rest.
        nq, nv = self.base.nq, self.base.nv
        self._qpos = slice(1, 1 + nq)
        self._qvel = slice(1 + nq, 1 + nq + nv)
        self._joint_qpos = slice(1 + ROOT_QPOS, 1 + nq)
        self._joint_qvel = slice(1 + nq + ROOT_QVEL, 1 + nq + nv)
        self.body_ids = np.array([self.base.body(b).id for b in self.body_names])
        self._root_of_body = self.base.body_rootid[self.body_ids]
        self._sc_adr = int(self.base.sensor_adr[self.base.sensor(SELF_CONTACT_SENSOR).id])
        self.state = np.zeros((num_envs, self.nstate))
        key = mujoco.MjData(self.base)
        mujoco.mj_resetDataKeyframe(self.base, key, 0)
        mujoco.mj_getState(self.base, key, self.state[0], _FULL)
        self.state[:] = self.state[0]
        self.self_contact = np.zeros(num_envs)
        self.diverged = np.zeros(num_envs, dtype=bool)
        self.actuation: Actuation | None = None
        self._out: np.ndarray | None = None
        self._sens: np.ndarray | None = None
        self._nominal = _nominal_params(self.base)

    # ---- configuration -----------------------------------------------------------------------------

    def configure(self, actuation: Actuation) -> None:
        self.actuation = actuation
        # The base model too: its time step is the one _rollout checks divergence against (per-env copies
        # exist with randomisation; left at 5 ms, a 1 kHz policy read as diverged at its first step).
        for m in {id(m): m for m in (self.base, *self._model_list)}.values():
            apply_actuation(m, actuation)

    def set_model_params(self, env_ids: np.ndarray, params: ModelParams) -> None:
        if self.models is None:
            raise ValueError("physical randomisation needs RolloutBackend(per_env_models=True)")
        nom = self._nominal
        for row, i in enumerate(np.asarray(env_ids)):
            m = self.models[int(i)]
            if params.friction is not None:
                m.geom_friction[nom["friction_geoms"], 0] = params.friction[row]
            if params.dof_frictionloss is not None:
                m.dof_frictionloss[ROOT_QVEL:] = params.dof_frictionloss[row]
            if params.armature_scale is not None:
                m.dof_armature[ROOT_QVEL:] = nom["armature"] * params.armature_scale[row]
            if params.torso_com_offset is not None:
                m.body_ipos[nom["torso"]] = nom["torso_ipos"] + params.torso_com_offset[row]
            if params.torso_mass_delta is not None:
                mass = nom["torso_mass"] + params.torso_mass_delta[row]
                m.body_mass[nom["torso"]] = mass
                m.body_inertia[nom["torso"]] = nom["torso_inertia"] * mass / nom["torso_mass"]
            if params.terrain is not None:
                m.hfield_data[:] = params.terrain[row].ravel()
                m.geom_pos[m.geom(TERRAIN_GEOM).id, :2] = params.terrain_origin[row]
            mujoco.mj_setConst(m, self._fk)  # derived masses, inverse weights

    # ---- stepping ----------------------------------------------------------------------------------

    def set_state(self, env_ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        ids = np.asarray(env_ids)
        self.state[ids, 0] = 0.0
        self.state[ids, self._qpos] = qpos
        self.state[ids, self._qvel] = qvel
        self.self_contact[ids] = 0
        self.diverged[ids] = False

    def _buffers(self, nsub: int) -> tuple[np.ndarray, np.ndarray]:
        if self._out is None or self._out.shape[1] != nsub:
            self._out = np.empty((self.num_envs, nsub, self.nstate))
            self._sens = np.empty((self.num_envs, nsub, self.base.nsensordata))
        return self._out, self._sens

    def _rollout(self, ctrl: np.ndarray) -> np.ndarray:
        nsub = ctrl.shape[1]
        out, sens = self._buffers(nsub)
        expected_time = self.state[:, 0] + nsub * self.base.opt.timestep
        self.pool.rollout(
            self._model_list,
            self.datas,
            self.state,
            ctrl,
            control_spec=_CTRL,
            nstep=nsub,
            state=out,
            sensordata=sens,
            skip_checks=True,
        )
        self.state[:] = out[:, -1]
        # MuJoCo resets the data (time 0) on a bad acceleration; rollout then repeats that state.
        self.diverged |= np.abs(self.state[:, 0] - expected_time) > 0.5 * self.base.opt.timestep
        return (sens[:, :, self._sc_adr] > 0).sum(axis=1)

    def step(self, targets: np.ndarray, nsub: int) -> None:
        act = self.actuation
        assert act is not None, "call configure() first"
        targets = np.asarray(targets, dtype=np.float64)
        assert targets.shape == (self.num_envs, NUM_JOINTS), targets.shape
        self.diverged[:] = False
        if act.pd == "actuator":
            ctrl = np.ascontiguousarray(
                np.broadcast_to(targets[:, None, :], (self.num_envs, nsub, NUM_JOINTS))
            )
            self.self_contact = self._rollout(ctrl).astype(np.float64)
            return
        contact = np.zeros(self.num_envs)
        for _ in range(nsub):  # the peers' loop: torque from the current state every physics step
            tau = pd_torque(act, targets, self.state[:, self._joint_qpos], self.state[:, self._joint_qvel])
            contact += self._rollout(np.ascontiguousarray(tau[:, None, :]))
        self.self_contact = contact

    # ---- reading -----------------------------------------------------------------------------------

    def read(self, env_ids: np.ndarray | None = None) -> PhysicsState:
        ids_env = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids, dtype=np.int64)
        n, k = len(ids_env), len(self.body_ids)
        pos, quat, cvel = np.empty((n, k, 3)), np.empty((n, k, 4)), np.empty((n, k, 6))
        com = np.empty((n, k, 3))
        d, ids, roots = self._fk, self.body_ids, self._root_of_body
        for row, i in enumerate(ids_env):
            m = self._model_list[i]
            d.qpos[:] = self.state[i, self._qpos]
            d.qvel[:] = self.state[i, self._qvel]
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            mujoco.mj_comVel(m, d)
            pos[row], quat[row], cvel[row], com[row] = (
                d.xpos[ids],
                d.xquat[ids],
                d.cvel[ids],
                d.subtree_com[roots],
            )
        # cvel = (angular, linear) at the subtree CoM of the body's root: shift to the body origin.
        lin = cvel[..., 3:] + cross(cvel[..., :3], pos - com)
        return PhysicsState.from_qpos_qvel(
            self.state[ids_env, self._qpos],
            self.state[ids_env, self._qvel],
            body_pos_w=pos,
            body_quat_w=quat,
            body_lin_vel_w=lin,
            self_contact=self.self_contact[ids_env],
            diverged=self.diverged[ids_env],
        )

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> RolloutBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _nominal_params(m: mujoco.MjModel) -> dict:
    torso = m.body("torso_link").id
    floor_like = [i for i in range(m.ngeom) if m.geom_bodyid[i] == 0]
    # Feet carry priority 1 (mjlab), so their friction is the one MuJoCo uses against the floor.
    feet = [i for i in range(m.ngeom) if m.geom_priority[i] > 0]
    return {
        "torso": torso,
        "torso_ipos": m.body_ipos[torso].copy(),
        "torso_mass": float(m.body_mass[torso]),
        "torso_inertia": m.body_inertia[torso].copy(),
        "armature": m.dof_armature[ROOT_QVEL:].copy(),
        "friction_geoms": np.array(floor_like + feet),
    }
