"""Issue 15 in the safety core (simulated 500 Hz clock): the policy/bridge handshake, full metadata
comparison, the command stamp window, and damping within 50 ms of the last command."""

import numpy as np
from g1_samples import DT, META, SESSION, Rig, sample, target

from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.session import Announcement, SessionGate, metadata_differences


def stand() -> Rig:
    rig = Rig(ramp_s=0.2)
    rig.run(0.02)
    ok, msg = rig.arm()
    assert ok, msg
    rig.run(0.3)
    assert rig.state == "stand"
    return rig


def test_commands_of_an_unannounced_session_or_with_old_stamps_never_move_the_robot():
    rig = stand()
    for over in (
        {"session_id": "recorded-run"},  # another run's session (bag replay), same policy_id
        {"session_id": SESSION, "lag_offset": 1.7e9},  # the right session but a 1970 stamp
        {"session_id": ""},  # an old bag without session ids
    ):
        for _ in range(60):
            rig.t = round(rig.t + DT, 9)
            rig.m.on_lowstate(sample(rig.t, rig.q))
            rig.m.on_command(target(rig.t, q=np.full(29, 0.3), **over))
            rig.m.tick(rig.t)
        assert rig.state == "stand", over
    warnings = " ".join(rig.m.status(rig.t).warnings)
    assert "JointCommands ignored" in warnings and "not the announced session" in warnings


def test_an_old_announcement_is_refused_and_names_the_stamp():
    rig = Rig()
    why = rig.m.on_announcement(Announcement("old", "test_policy", META.to_json(), 100.0, 0.0), 1.7e9)
    assert "recorded in another run" in why and rig.m.gate.session == SESSION


def test_kp_doubled_copy_blocks_arming_and_is_named():
    rig = Rig(meta=META)
    doubled = PolicyMetadata.from_json(META.to_json())
    doubled.kp = [2 * k for k in doubled.kp]
    why = rig.announce(doubled, session="copy")
    assert "kp differs at 29 joint(s)" in why
    rig.run(0.02)
    ok, msg = rig.arm()
    assert not ok and "kp differs at 29 joint(s)" in msg and "session copy" in msg


def test_every_metadata_field_is_compared():
    base = PolicyMetadata("p")
    for change in (
        {"joint_names": list(reversed(base.joint_names))},
        {"kd": [k * 1.01 for k in base.kd]},
        {"default_joint_pos": [q + 0.01 for q in base.default_joint_pos]},
        {"action_scale": [0.5] * 29},
        {"control_dt": 0.01},
    ):
        other = PolicyMetadata(**{**base.__dict__, **change})
        diffs = metadata_differences(base, other)
        assert len(diffs) == 1 and diffs[0].startswith(next(iter(change))), (change, diffs)
    assert metadata_differences(base, PolicyMetadata.from_json(base.to_json())) == []


def test_a_second_session_waits_until_the_first_is_silent():
    gate = SessionGate(None, stamp_window_s=0.5, takeover_s=2.0)
    meta = PolicyMetadata("p").to_json()
    assert gate.on_announcement(Announcement("a", "p", meta, 10.0, 10.0), 10.0) == ""
    assert "waits" in gate.on_announcement(Announcement("b", "p", meta, 11.0, 11.0), 11.0)
    assert gate.check_command("b", 11.0, 11.0, 11.0) != "" and gate.check_command("a", 11.0, 11.0, 11.0) == ""
    assert gate.on_announcement(Announcement("b", "p", meta, 13.5, 13.5), 13.5) == ""  # a silent for 2.5 s
    assert gate.session == "b"


def test_tracking_robot_is_damped_within_50_ms_of_the_last_command():
    """Issue 15 item 4: the bridge damped ~100 ms after the policy died; the default watchdog is 40 ms."""
    rig = stand()
    rig.run(0.1, command=True)
    assert rig.state == "track"
    t_last = rig.t
    while rig.state == "track":
        rig.step()
    assert rig.state == "estop" and "no JointCommand" in rig.m.reason
    assert rig.t - t_last <= 0.050, rig.t - t_last
    assert (rig.cmd.kp == 0).all()  # the command of that very tick damps
