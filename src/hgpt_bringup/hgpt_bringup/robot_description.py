"""The G1's robot description (URDF) for robot_state_publisher / RViz / Foxglove, made from the shipped MJCF.

``hgpt_core/assets/g1/g1.xml`` (mjlab, Apache-2.0; meshes Unitree, BSD-3-Clause: the URDF is a derived work
under the same licences, both files next to the meshes) is loaded with MuJoCo and written as URDF: one link
per body (mass, inertia, visual meshes), one revolute joint per hinge (axis, limits, effort from the
actuated scene's force ranges), fixed joints for bodies without one. The root link is ``pelvis`` (the
MJCF's free joint is the ``world -> pelvis`` transform, published from the simulator's root truth).
Mesh paths are ``file://`` URIs of the installed meshes, so no package:// lookup is needed.

  hgpt description --out g1.urdf          # or: ros2 param / robot_state_publisher robot_description:=...
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, assets_dir, robot_xml_path, scene_xml_path

LICENCE_NOTE = (
    "Derived from hgpt_core/assets/g1/g1.xml (mjlab asset_zoo, Apache-2.0, LICENSE.mjlab-Apache-2.0) and the "
    "Unitree G1 meshes (BSD-3-Clause, LICENSE.unitree-BSD-3-Clause) by hgpt_bringup.robot_description."
)


def quat_to_rpy(q: np.ndarray) -> np.ndarray:
    """wxyz quaternion -> URDF roll, pitch, yaw [rad] (R = Rz(yaw) Ry(pitch) Rx(roll))."""
    m = np.zeros(9)
    mujoco.mju_quat2Mat(m, np.asarray(q, float))
    r = m.reshape(3, 3)
    pitch = np.arcsin(-np.clip(r[2, 0], -1.0, 1.0))
    if abs(r[2, 0]) < 1 - 1e-9:
        roll, yaw = np.arctan2(r[2, 1], r[2, 2]), np.arctan2(r[1, 0], r[0, 0])
    else:  # gimbal lock: yaw absorbs roll
        roll, yaw = 0.0, np.arctan2(-r[0, 1], r[1, 1])
    return np.array([roll, pitch, yaw])


def _origin(pos, quat) -> str:
    xyz = " ".join(f"{v:.9g}" for v in pos)
    rpy = " ".join(f"{v:.9g}" for v in quat_to_rpy(quat))
    return f'<origin xyz="{xyz}" rpy="{rpy}"/>'


def g1_urdf(mesh_dir: Path | None = None) -> str:
    """The URDF text; ``mesh_dir`` holds the STL files (default: the installed MJCF's ``assets/``)."""
    m = mujoco.MjModel.from_xml_path(str(robot_xml_path()))
    scene = mujoco.MjModel.from_xml_path(str(scene_xml_path()))
    mesh_dir = Path(mesh_dir or assets_dir() / "assets").resolve()
    effort = {}
    for a in range(scene.nu):
        jname = mujoco.mj_id2name(scene, mujoco.mjtObj.mjOBJ_JOINT, scene.actuator_trnid[a, 0])
        effort[jname] = float(scene.actuator_forcerange[a, 1])
    name = lambda obj, i: mujoco.mj_id2name(m, obj, i)  # noqa: E731
    out = ['<?xml version="1.0"?>', f"<!-- {LICENCE_NOTE} -->", '<robot name="g1_29dof">']
    for b in range(1, m.nbody):
        bname = name(mujoco.mjtObj.mjOBJ_BODY, b)
        out.append(f'  <link name="{bname}">')
        out.append("    <inertial>")
        out.append(f"      {_origin(m.body_ipos[b], m.body_iquat[b])}")
        out.append(f'      <mass value="{m.body_mass[b]:.9g}"/>')
        ixx, iyy, izz = m.body_inertia[b]
        out.append(
            f'      <inertia ixx="{ixx:.9g}" ixy="0" ixz="0" iyy="{iyy:.9g}" iyz="0" izz="{izz:.9g}"/>'
        )
        out.append("    </inertial>")
        for g in np.flatnonzero(m.geom_bodyid == b):
            if m.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH:
                continue
            mid = m.geom_dataid[g]
            mesh = name(mujoco.mjtObj.mjOBJ_MESH, mid)
            file = m.paths[m.mesh_pathadr[mid] :].split(b"\0", 1)[0].decode()
            uri = (mesh_dir / file).as_uri()
            rgba = " ".join(f"{v:.3g}" for v in m.geom_rgba[g])
            out += [
                "    <visual>",
                f"      {_origin(m.geom_pos[g], m.geom_quat[g])}",
                f"      <geometry><mesh filename={quoteattr(uri)}/></geometry>",
                f'      <material name="{mesh}_color"><color rgba="{rgba}"/></material>',
                "    </visual>",
            ]
        out.append("  </link>")
    for b in range(2, m.nbody):  # body 1 (pelvis) is the root: its free joint is world -> pelvis
        child, parent = name(mujoco.mjtObj.mjOBJ_BODY, b), name(mujoco.mjtObj.mjOBJ_BODY, m.body_parentid[b])
        origin = _origin(m.body_pos[b], m.body_quat[b])
        if m.body_jntnum[b] == 0:
            out.append(f'  <joint name="{child}_fixed" type="fixed">')
            out += [
                f"    {origin}",
                f'    <parent link="{parent}"/>',
                f'    <child link="{child}"/>',
                "  </joint>",
            ]
            continue
        j = m.body_jntadr[b]
        jname = name(mujoco.mjtObj.mjOBJ_JOINT, j)
        lo, hi = m.jnt_range[j]
        axis = " ".join(f"{v:.9g}" for v in m.jnt_axis[j])
        out += [
            f'  <joint name="{jname}" type="revolute">',
            f"    {origin}",
            f'    <parent link="{parent}"/>',
            f'    <child link="{child}"/>',
            f'    <axis xyz="{axis}"/>',
            f'    <limit lower="{lo:.9g}" upper="{hi:.9g}" effort="{effort.get(jname, 0.0):.9g}"'
            ' velocity="30"/>',
            "  </joint>",
        ]
    out.append("</robot>")
    text = "\n".join(out) + "\n"
    joints = [ln.split('"')[1] for ln in out if 'type="revolute"' in ln]
    if tuple(joints) != tuple(G1_JOINT_NAMES):
        raise ValueError("URDF revolute joints are not in G1 order")
    return text


def main(argv: list[str] | None = None) -> None:
    """``hgpt description [--out FILE]``: print (or write) the G1 URDF."""
    import argparse

    ap = argparse.ArgumentParser(prog="hgpt description", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="", help="write the URDF here (default: stdout)")
    ap.add_argument("--mesh-dir", default="", help="folder of the STL meshes (default: the installed ones)")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    text = g1_urdf(Path(a.mesh_dir) if a.mesh_dir else None)
    if a.out:
        Path(a.out).write_text(text)
        print(f"wrote {a.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
