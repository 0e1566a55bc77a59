"""Issue 15 item 2: the live reference stays physically plausible through jumps (loop restart, skeleton
change, teleport): bounded root/joint speeds, re-anchored and blended, or invalid with a reason."""

import numpy as np

from hgpt_core.g1 import KNEES_BENT_POSE
from hgpt_core.rotations import yaw_of
from hgpt_retarget.live import LiveFrame
from hgpt_retarget.plausible import PlausibilityConfig, ReferenceFilter

DT = 0.02
UP = np.array([1.0, 0.0, 0.0, 0.0])


def frame(t: float, x: float, y: float = 0.0, q: np.ndarray | None = None, quat=UP) -> LiveFrame:
    return LiveFrame(
        t, np.array([x, y, 0.78]), np.asarray(quat, dtype=float),
        KNEES_BENT_POSE.copy() if q is None else q, valid=True,
    )  # fmt: skip


def speeds(out: list[LiveFrame]) -> tuple[float, float]:
    pos = np.array([f.root_pos_w for f in out])
    q = np.array([f.joint_pos for f in out])
    return (
        float(np.linalg.norm(np.diff(pos, axis=0), axis=1).max() / DT),
        float(np.abs(np.diff(q, axis=0)).max() / DT),
    )


def test_a_looping_walk_restart_and_a_teleport_are_reanchored_with_bounded_speed():
    """1 m/s walk for 2 s, then the loop restarts at x=0 (the mocap send --loop case, ~21 m/s raw), then a
    5.55 m teleport (the skeleton change case, 166 m/s raw at 30 Hz)."""
    f = ReferenceFilter()
    raw = [frame(k * DT, k * DT) for k in range(100)]
    raw += [frame((100 + k) * DT, k * DT) for k in range(100)]  # loop restart
    raw += [frame((200 + k) * DT, 5.55 + k * DT) for k in range(50)]  # teleport
    out = [f.step(r) for r in raw]
    root, joints = speeds(out)
    assert root <= 4.0 + 1e-9 and joints <= 12.0 + 1e-9, (root, joints)
    assert all(o.valid for o in out) and f.reanchors == 2
    assert any(e.startswith("reanchor:root") for e in out[100].events)
    v = np.diff([o.root_pos_w[0] for o in out[95:110]]) / DT
    np.testing.assert_allclose(v, 1.0, atol=1e-6)  # the walk continues at its speed through the restart


def test_a_skeleton_change_mid_stream_blends_the_joints():
    f = ReferenceFilter(PlausibilityConfig(blend_s=0.5))
    other = KNEES_BENT_POSE + 1.5  # another skeleton maps to a very different pose
    raw = [frame(k * DT, 0.0) for k in range(20)] + [frame(k * DT, 0.0, q=other) for k in range(20, 80)]
    out = [f.step(r) for r in raw]
    _, joints = speeds(out)
    assert joints <= 12.0 + 1e-9
    assert any(e.startswith("blend: joints") for e in out[20].events)
    np.testing.assert_allclose(out[-1].joint_pos, other, atol=1e-9)  # arrives within the blend


def test_a_heading_flip_is_reanchored_and_nan_is_invalid_with_a_reason():
    f = ReferenceFilter()
    half = np.array([np.cos(np.pi / 2), 0.0, 0.0, np.sin(np.pi / 2)])  # 180 deg yaw in one frame
    out = [f.step(frame(k * DT, 0.0)) for k in range(10)]
    out.append(f.step(frame(10 * DT, 0.0, quat=half)))
    assert abs(float(yaw_of(out[-1].root_quat_w))) < 1e-6 and "heading" in out[-1].events[-1]
    bad = frame(11 * DT, np.nan)
    o = f.step(bad)
    assert not o.valid and "non-finite" in o.events[-1]
    o = f.step(frame(12 * DT, 0.0))
    assert o.valid
