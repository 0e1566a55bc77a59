"""Settings of the live retargeter: :class:`LiveConfig` (tunable) and the fixed filter constants it uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from hgpt_retarget.ground import StanceConfig
from hgpt_retarget.ik import IKConfig

# Landmarks the targets never use: a stream may drop them freely.
UNUSED_LANDMARKS = frozenset({"head", "pelvis"})

# Time steps.
FIRST_DT_S = 1.0 / 50.0  # time step assumed for a stream's first frame [s] (the 50 Hz reference rate)
MIN_DT_S = 1e-3  # floor of a frame's time step in speed limits and filters [s]
MAX_SOLVE_DT_S = 1.0  # the IK speed limit never grants one frame more than this much motion time [s]
GAP_ITERATIONS = 4  # a frame after a gap (> max_gap_s) gets this many times cfg.ik.iterations

# Causal filters, per frame (a rate r moves a value r of the way to its new measurement each frame).
GROUND_RISE_RATE = 0.01  # the ground level rises this slowly towards a higher lowest ankle (drops at once)
ANKLE_SPEED_RATE = 0.5  # weight of the newest ankle speed [m/s] in its running mean (stance detection)
REST_PITCH_RATE = 0.1  # while standing: the skeleton's flat-foot pitch [rad] learnt at this rate
FOOT_LEN_RATE = 0.1  # a pivoting foot's ankle -> toe length [m] follows the measured one at this rate
LOCK_RELEASE_RATE = 0.5  # after lift-off: a foot lock moves this share of the way to the free target
LOCK_RELEASE_DONE_M = 1e-3  # ... and is dropped once this close to it [m]
RUN_START_S = 0.25  # a stance run's first this-many seconds: net (shuffle) travel is measured from their mean


@dataclass(frozen=True)
class LiveConfig:
    """Live retargeting settings (defaults are the working values)."""

    ik: IKConfig = field(default_factory=lambda: IKConfig(iterations=2))
    stance: StanceConfig = field(default_factory=StanceConfig)
    subject_height: float | None = None
    """Subject height [m]; None estimates it from the first frame's legs."""
    hold_timeout_s: float = 0.5
    """How long a missing/NaN landmark is held at its last good position [s]."""
    max_gap_s: float = 0.25
    """A longer gap between frames gets a longer solve (re-acquisition) [s]."""
    pose_jump_speed: float = 15.0
    """A landmark moving faster than this [m/s] between two frames is a pose jump (a T-pose frame before
    the motion, a tracker swapping limbs): the output eases from the last frame instead of following."""
    max_root_speed: float = 4.0
    """Fastest plausible root motion [m/s]; faster is a jump and is blended."""
    blend_tau_s: float = 0.3
    """Time constant of the blend back after a jump [s]."""
    swing_foot_orientation: float = 0.3
    """Foot orientation cost factor in the air."""
    stance_alpha: float = 0.4
    """Smoothing factor (per frame) of stance weights and the ground correction."""
    follow_pivots: bool = False
    """Apply the pivot/shuffle stance rule live (causally; see ``_foot_lock``). Off by default: on the
    Bandai boxer it doubles the pivoting ankle's speed (0.013 -> 0.023 m/s p50) but adds artefact skating
    (0.027 -> 0.032 m/s) and 6 mm of foot error; the offline rule sees whole runs and is clean."""
    ease_speed: float = 2.0
    """Joint speed bound [rad/s] while easing in (after init, re-init, a gap or invalid frames)."""
    ease_root_speed: float = 0.5
    """Speed [m/s] at which the root's offset from the motion shrinks while easing in (from a pose with a
    root: the last frame, or a robot pose given with one)."""
    ease_root_ang_speed: float = 1.0
    """Rate [rad/s] at which the root's heading offset shrinks while easing in (roll/pitch follow the
    motion)."""
    ease_max_dt: float = 0.04
    """Longest time step [s] one eased frame may use (a frame after a long gap moves one step, not more)."""
