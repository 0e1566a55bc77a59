"""The G1 URDF made from the MJCF (issue 17): same kinematics as MuJoCo, joints in G1 order, meshes found."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import mujoco
import numpy as np

from hgpt_bringup.robot_description import g1_urdf
from hgpt_core.g1 import G1_JOINT_NAMES, robot_xml_path


def _rot(rpy) -> np.ndarray:
    r, p, y = rpy
    rx = np.array([[1, 0, 0], [0, np.cos(r), -np.sin(r)], [0, np.sin(r), np.cos(r)]])
    ry = np.array([[np.cos(p), 0, np.sin(p)], [0, 1, 0], [-np.sin(p), 0, np.cos(p)]])
    rz = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _axis_angle(axis, angle) -> np.ndarray:
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def _urdf_fk(root: ET.Element, q: dict[str, float]) -> dict[str, np.ndarray]:
    """World 4x4 pose of every link, pelvis at the identity (what robot_state_publisher computes)."""
    poses = {"pelvis": np.eye(4)}
    joints = root.findall("joint")
    while len(poses) < len(root.findall("link")):
        for j in joints:
            parent, child = j.find("parent").get("link"), j.find("child").get("link")
            if parent not in poses or child in poses:
                continue
            o = j.find("origin")
            t = np.eye(4)
            t[:3, :3] = _rot([float(v) for v in o.get("rpy").split()])
            t[:3, 3] = [float(v) for v in o.get("xyz").split()]
            if j.get("type") == "revolute":
                m = np.eye(4)
                m[:3, :3] = _axis_angle(
                    [float(v) for v in j.find("axis").get("xyz").split()], q[j.get("name")]
                )
                t = t @ m
            poses[child] = poses[parent] @ t
    return poses


def test_urdf_matches_mujoco_forward_kinematics():
    root = ET.fromstring(g1_urdf())
    revolute = [j.get("name") for j in root.findall("joint") if j.get("type") == "revolute"]
    assert tuple(revolute) == G1_JOINT_NAMES
    for j in root.findall("joint"):
        if j.get("type") == "revolute":
            lim = j.find("limit")
            assert float(lim.get("lower")) < float(lim.get("upper")) and float(lim.get("effort")) > 0
    for mesh in root.iter("mesh"):
        assert urlparse(mesh.get("filename")).scheme == "file"
        path = urlparse(mesh.get("filename")).path
        assert os.path.getsize(path) > 0, path  # the STL exists
    m = mujoco.MjModel.from_xml_path(str(robot_xml_path()))
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.uniform(m.jnt_range[1:, 0], m.jnt_range[1:, 1])
        d.qpos[:] = 0.0
        d.qpos[3], d.qpos[7:] = 1.0, q
        mujoco.mj_kinematics(m, d)
        poses = _urdf_fk(root, dict(zip(G1_JOINT_NAMES, q, strict=True)))
        assert len(poses) == m.nbody - 1
        for b in range(1, m.nbody):
            name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b)
            np.testing.assert_allclose(poses[name][:3, 3], d.xpos[b], atol=1e-7, err_msg=name)
            np.testing.assert_allclose(poses[name][:3, :3], d.xmat[b].reshape(3, 3), atol=1e-7, err_msg=name)
