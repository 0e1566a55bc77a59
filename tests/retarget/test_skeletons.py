"""Skeleton mappings: every shipped YAML is valid and fits the G1; bad mappings are clear errors."""

from __future__ import annotations

import copy

import pytest
import yaml

from hgpt_retarget.ik import g1_model
from hgpt_retarget.skeleton import (
    REQUIRED_LANDMARKS,
    SkeletonError,
    available_skeletons,
    detect_skeleton,
    load_skeleton,
    parse_mapping,
    skeletons_dir,
)

EXPECTED = {"bandai_namco", "cmu", "xsens", "holosoma_mocap", "omomo_smplh", "smpl24"}


def test_shipped_mappings_parse_and_name_real_g1_bodies():
    assert set(available_skeletons()) >= EXPECTED
    model = g1_model()
    bodies = {model.body(i).name for i in range(model.nbody)}
    for name in available_skeletons():
        sk = load_skeleton(name)
        assert set(REQUIRED_LANDMARKS) <= set(sk.landmarks), name
        assert {t.body for t in sk.targets} <= bodies, name
        assert sk.joints and len(set(sk.joints)) == len(sk.joints), f"{name}: duplicate joint names"


def test_detect_by_joint_names():
    for name in ("bandai_namco", "cmu", "xsens"):
        assert detect_skeleton(load_skeleton(name).joints).name == name
    with pytest.raises(SkeletonError, match="no skeleton mapping fits"):
        detect_skeleton(("a", "b", "c"))


def test_unknown_skeleton_lists_the_shipped_ones():
    with pytest.raises(SkeletonError, match="available: .*bandai_namco"):
        load_skeleton("no_such_skeleton")


def _doc() -> dict:
    return yaml.safe_load((skeletons_dir() / "bandai_namco.yaml").read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("units"), "missing keys"),
        (lambda d: d.update(units="furlong"), "valid: "),
        (lambda d: d.update(up_axis="x"), "up_axis"),
        (lambda d: d.update(format="c3d"), "format"),
        (lambda d: d["landmarks"].pop("left_knee"), "missing \\['left_knee'\\]"),
        (lambda d: d["landmarks"].update(tail="Hips"), "unknown landmarks \\['tail'\\]"),
        (lambda d: d["landmarks"].update(left_knee="NoSuchJoint"), "not in 'joints'"),
        (lambda d: d["targets"]["left_knee_link"].update(orientation_cost=1.0), "only"),
        (lambda d: d["targets"]["left_knee_link"].update(weight=1.0), "fields"),
        (lambda d: d["targets"]["left_elbow_link"].update(chain="no_such_link"), "not a target"),
        (lambda d: d["targets"]["left_shoulder_roll_link"].update(chain="left_wrist_yaw_link"), "cycle"),
    ],
)
def test_bad_mapping_is_a_clear_error(edit, message):
    doc = copy.deepcopy(_doc())
    edit(doc)
    with pytest.raises(SkeletonError, match=message):
        parse_mapping(doc, "test.yaml")


def test_mapping_file_by_path(tmp_path):
    doc = _doc()
    doc["name"] = "my_rig"
    path = tmp_path / "my_rig.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert load_skeleton(str(path)).name == "my_rig"
