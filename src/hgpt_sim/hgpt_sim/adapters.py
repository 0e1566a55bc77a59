"""Policies that track: each builds its own observation from sim state + reference and decodes its own
action into PD targets with its own gains. The evaluation harness and DAgger treat them all alike.

* :class:`HgptAdapter`: any hgpt policy: :class:`PolicyMetadata` + a runtime with ``step(obs) -> action``
  (token runtimes, ONNX sessions, torch modules) or ``act(ObsInput) -> action`` (hgpt_policy's
  ``TrackingPolicy``); observation from ``hgpt_core.obs.build_obs``.
* :class:`ActionHistory`: the executed raw action fed back as ``last_action`` and the per-env reset of a
  policy that keeps it (:class:`HgptAdapter`'s, and hgpt_training's PPO experts').
* :func:`hold_default_adapter`: zero action = hold the default pose (trivial baseline; falls within 2 s).
* :class:`hgpt_sim.twist2.Twist2Adapter`: the peer TWIST2 ONNX tracker (its own layout and gains).
"""

from __future__ import annotations

import inspect
from typing import Protocol

import numpy as np

from hgpt_core.g1 import NUM_JOINTS, G1Spec
from hgpt_core.obs import ObsInput, build_obs, terms_from_layout
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.state import ReferenceFrame, RobotState
from hgpt_sim.model import Actuation


class TrackerAdapter(Protocol):
    """A tracking policy as the simulator sees it.

    Attributes:
        name: Label for tables and plots.
        actuation: The gains, torque limits, physics step and PD implementation the policy was trained with.
        control_dt: Its control period [s].
    """

    name: str
    actuation: Actuation
    control_dt: float

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        """Forget history of the given envs (default all)."""
        ...

    def act(self, state: RobotState, ref_next: ReferenceFrame) -> np.ndarray:
        """Robot state now + reference one control step ahead -> PD targets [rad], (N, 29)."""
        ...


class ActionHistory:
    """The raw action each env executed last (the ``last_action`` observation term), and the reset path.

    :meth:`reset` zeroes the reset envs' rows, then resets ``inner`` (a runtime or a teacher adapter:
    ``reset(env_ids)``, or ``reset()`` when it takes no argument; nothing when it has no ``reset``).

    Args:
        inner: What keeps more per-env history than the last action (None: nothing).
    """

    def __init__(self, inner: object | None = None) -> None:
        self.last_action: np.ndarray | None = None  # (N, 29), made by last_actions(N)
        self._inner = inner
        reset = getattr(inner, "reset", None)
        self._reset_takes_ids = reset is not None and len(inspect.signature(reset).parameters) > 0

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        """Forget the history of the given envs (default all)."""
        if self.last_action is not None:
            if env_ids is None:
                self.last_action[:] = 0.0
            else:
                self.last_action[env_ids] = 0.0
        reset = getattr(self._inner, "reset", None)
        if reset is None:
            return
        if self._reset_takes_ids:
            reset(env_ids)
        else:
            reset()

    def last_actions(self, n: int) -> np.ndarray:
        """The last raw actions of ``n`` envs: zeros before the first step or when ``n`` changed. (n, 29)."""
        if self.last_action is None or self.last_action.shape[0] != n:
            self.last_action = np.zeros((n, NUM_JOINTS))
        return self.last_action


class HgptAdapter(ActionHistory):
    """hgpt policy: obs via ``build_obs`` with the metadata's layout; target = default + scale * action.

    Args:
        meta: The policy's metadata (gains, default pose, action scale, obs layout, control dt).
        runtime: ``step(obs (N, D)) -> (N, 29)`` and ``reset()``; or ``act(ObsInput) -> (N, 29)``.
        torque_limit: Motor torque limits [N m] (default: the G1's).
        physics_dt: Physics step [s] (PD inside position actuators).
    """

    def __init__(
        self,
        meta: PolicyMetadata,
        runtime,
        torque_limit: np.ndarray | None = None,
        physics_dt: float = 0.005,
    ) -> None:
        if not (hasattr(runtime, "step") or hasattr(runtime, "act")):
            raise ValueError(f"runtime {type(runtime).__name__} has neither step(obs) nor act(ObsInput)")
        problems = meta.self_check()
        if problems:
            raise ValueError(f"policy metadata '{meta.policy_id}' is invalid: {problems}")
        self.meta, self.runtime, self.name = meta, runtime, meta.policy_id
        a = meta.arrays()
        self.default_pose, self.action_scale = a["default_joint_pos"], a["action_scale"]
        limit = G1Spec().effort_limit if torque_limit is None else np.asarray(torque_limit)
        self.actuation = Actuation(a["kp"], a["kd"], limit, physics_dt=physics_dt)
        self.control_dt = meta.control_dt
        self.terms = terms_from_layout(meta.obs_terms)
        super().__init__(runtime)

    def act(self, state: RobotState, ref_next: ReferenceFrame) -> np.ndarray:
        n = state.joint_pos.shape[0]
        inp = ObsInput.from_state(state, ref_next, self.last_actions(n), self.default_pose)
        if hasattr(self.runtime, "act"):
            action = self.runtime.act(inp)
        else:
            action = self.runtime.step(build_obs(inp, self.terms))
        action = np.asarray(_to_numpy(action), dtype=np.float64).reshape(n, NUM_JOINTS)
        self.last_action = action
        return self.default_pose + self.action_scale * action


def hold_default_adapter() -> HgptAdapter:
    """Adapter that holds the default pose (action 0), the ``zero`` policy of :mod:`hgpt_policy.loader`."""
    from hgpt_policy.loader import HoldDefaultPolicy

    policy = HoldDefaultPolicy()
    return HgptAdapter(policy.meta, policy)


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)
