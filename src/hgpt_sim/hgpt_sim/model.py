"""Physics model of the tracking env: the shipped G1 scene without visual meshes, plus what the env reads.

One compiled model serves every policy: its PD gains, torque limits, time step and integrator are written
into ``model.actuator_gainprm / biasprm / forcerange`` and ``model.opt`` from the policy's
:class:`Actuation` (DESIGN §5). Visual meshes are dropped (70 MB -> 75 kB per model), so per-env model
copies for domain randomisation stay cheap; the render model (:mod:`hgpt_sim.render`) keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, NUM_JOINTS, ROOT_BODY, G1Spec, scene_xml_path

SELF_CONTACT_SENSOR = "self_contact"
TERRAIN_GEOM = "terrain"
TERRAIN_HFIELD = "terrain"
INTEGRATORS = {
    "euler": mujoco.mjtIntegrator.mjINT_EULER,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
}
PD_MODES = ("actuator", "python")


@dataclass(frozen=True)
class Actuation:
    """How PD targets become joint torques: ``tau = clip(kp (q* - q) - kd dq, -torque_limit, torque_limit)``.

    Attributes:
        kp: Stiffness [N m/rad], shape (29,).
        kd: Damping [N m s/rad], shape (29,).
        torque_limit: Symmetric torque clip [N m], shape (29,).
        physics_dt: Physics time step [s].
        integrator: ``implicitfast`` (damping implicit, stable at 5 ms) or ``euler`` (actuator damping
            explicit: identical to a torque PD computed outside the step, as peers do at 1 ms).
        pd: ``actuator`` = PD inside the C step via the general actuators (fast, batched), ``python`` =
            torque computed in numpy every physics step into motor-mode actuators (the peers' sim2sim loop;
            slow, for verification).
    """

    kp: np.ndarray
    kd: np.ndarray
    torque_limit: np.ndarray = field(default_factory=lambda: G1Spec().effort_limit.copy())
    physics_dt: float = 0.005
    integrator: str = "implicitfast"
    pd: str = "actuator"

    def __post_init__(self) -> None:
        for name in ("kp", "kd", "torque_limit"):
            v = np.asarray(getattr(self, name), dtype=np.float64)
            if v.shape != (NUM_JOINTS,) or not np.isfinite(v).all() or (v < 0).any():
                raise ValueError(f"Actuation.{name} must be 29 finite non-negative numbers, got {v}")
            object.__setattr__(self, name, v)
        if self.integrator not in INTEGRATORS:
            raise ValueError(f"integrator '{self.integrator}' not one of {sorted(INTEGRATORS)}")
        if self.pd not in PD_MODES:
            raise ValueError(f"pd '{self.pd}' not one of {PD_MODES}")
        if not 1e-4 <= self.physics_dt <= 0.01:
            raise ValueError(f"physics_dt {self.physics_dt} s outside [1e-4, 0.01]")

    def decimation(self, control_dt: float) -> int:
        """Physics steps per control step; ``control_dt`` must be a multiple of ``physics_dt``."""
        n = int(round(control_dt / self.physics_dt))
        if n < 1 or abs(n * self.physics_dt - control_dt) > 1e-9:
            raise ValueError(f"control_dt {control_dt} s is not a multiple of physics_dt {self.physics_dt} s")
        return n

    @classmethod
    def from_gains(cls, kp, kd, **kw) -> Actuation:
        """Position actuators with the G1's motor torque limits (hgpt policies: DESIGN §4 gains)."""
        return cls(kp=np.asarray(kp, dtype=np.float64), kd=np.asarray(kd, dtype=np.float64), **kw)


@dataclass(frozen=True)
class TerrainSpec:
    """Height field added to the scene when terrain randomisation is on (compile-time: all envs get it).

    Attributes:
        size_m: Side of the square field [m], centred per env on its start position.
        resolution_m: Grid spacing [m].
        max_height_m: Elevation of a data value of 1 [m].
    """

    size_m: float = 16.0
    resolution_m: float = 0.1
    max_height_m: float = 0.3

    @property
    def cells(self) -> int:
        return int(round(self.size_m / self.resolution_m)) + 1


def build_physics_model(terrain: TerrainSpec | None = None) -> mujoco.MjModel:
    """G1 scene without visual meshes, with a self-contact sensor and optionally a terrain height field."""
    spec = mujoco.MjSpec.from_file(str(scene_xml_path()))
    for g in list(spec.geoms):
        if g.type == mujoco.mjtGeom.mjGEOM_MESH and g.contype == 0 and g.conaffinity == 0:
            spec.delete(g)
    for mesh in list(spec.meshes):
        spec.delete(mesh)
    # Counts robot-robot contacts (found = number of contacts) in the pre-step state of each physics step.
    spec.add_sensor(
        name=SELF_CONTACT_SENSOR,
        type=mujoco.mjtSensor.mjSENS_CONTACT,
        objtype=mujoco.mjtObj.mjOBJ_XBODY,
        objname=ROOT_BODY,
        reftype=mujoco.mjtObj.mjOBJ_XBODY,
        refname=ROOT_BODY,
        intprm=[1, 0, 1],
    )
    if terrain is not None:
        n = terrain.cells
        half = terrain.size_m / 2
        hfield = spec.add_hfield(
            name=TERRAIN_HFIELD, nrow=n, ncol=n, size=[half, half, terrain.max_height_m, 0.05]
        )
        hfield.userdata = [0.0] * (n * n)  # flat until randomised
        spec.worldbody.add_geom(
            name=TERRAIN_GEOM,
            type=mujoco.mjtGeom.mjGEOM_HFIELD,
            hfieldname=TERRAIN_HFIELD,
            rgba=[0.45, 0.4, 0.35, 1],
        )
    model = spec.compile()
    _check_actuators(model)
    return model


def _check_actuators(model: mujoco.MjModel) -> None:
    names = tuple(model.joint(int(j)).name for j in model.actuator_trnid[:, 0])
    assert names == G1_JOINT_NAMES, "actuator order differs from G1_JOINT_NAMES"
    adr = [int(model.jnt_dofadr[model.joint(n).id]) for n in G1_JOINT_NAMES]
    assert adr == list(range(6, 6 + NUM_JOINTS)), "dof order differs from G1_JOINT_NAMES"


def apply_actuation(model: mujoco.MjModel, act: Actuation) -> None:
    """Write the policy's gains, torque limits, time step and integrator into ``model`` in place.

    In ``actuator`` mode the general actuators compute ``kp * ctrl - kp * q - kd * dq`` (affine bias), so
    ``ctrl`` is the PD target; in ``python`` mode they are motors (gain 1, no bias) and ``ctrl`` is torque.
    """
    model.opt.timestep = act.physics_dt
    model.opt.integrator = INTEGRATORS[act.integrator]
    model.actuator_gainprm[:] = 0.0
    model.actuator_biasprm[:] = 0.0
    if act.pd == "actuator":
        model.actuator_gainprm[:, 0] = act.kp
        model.actuator_biasprm[:, 1] = -act.kp
        model.actuator_biasprm[:, 2] = -act.kd
    else:
        model.actuator_gainprm[:, 0] = 1.0
    model.actuator_biastype[:] = mujoco.mjtBias.mjBIAS_AFFINE
    model.actuator_forcelimited[:] = 1
    model.actuator_forcerange[:, 0] = -act.torque_limit
    model.actuator_forcerange[:, 1] = act.torque_limit


def pd_torque(act: Actuation, target: np.ndarray, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
    """The PD law both modes implement [N m]. Shapes: (..., 29)."""
    tau = act.kp * (target - q) - act.kd * dq
    return np.clip(tau, -act.torque_limit, act.torque_limit)
