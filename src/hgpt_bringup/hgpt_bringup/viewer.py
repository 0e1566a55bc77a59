"""Browser viewer core (no rclpy): the G1's MJCF meshes and the reference as a ghost, in viser.

viser (https://viser.studio, Apache-2.0; the viewer mjlab uses) serves a three.js client bundled in its
wheel from a local port: no internet, no build step, any browser. :class:`G1Meshes` reads the shipped MJCF
(``hgpt_core.g1.robot_xml_path()``, its visual meshes), :class:`ViewerScene` puts one frame per body for the
robot and for the ghost and moves them from a pose (root position [m], root quaternion wxyz, 29 joint
angles [rad] in G1 order) by MuJoCo forward kinematics. Also what the live node and the bag replay share:
message -> :class:`Pose` (duck-typed, no rclpy), the side panel (:class:`Readout`), the server. The ROS side
is :mod:`hgpt_bringup.viewer_node`, the bag replay :mod:`hgpt_bringup.viewer_replay`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, robot_xml_path

ROBOT_COLOR = (200, 205, 215)
GHOST_COLOR = (60, 160, 255)
GHOST_OPACITY = 0.35
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Pose:
    """A G1 pose: root position (3,) [m] world, root quaternion (4,) wxyz, joints (29,) [rad] G1 order."""

    root_pos: np.ndarray
    root_quat: np.ndarray
    q: np.ndarray


MESH_CELL_M = 0.008
"""Vertex-clustering grid [m] the visual meshes are simplified to (393k -> 46k triangles: a browser in
software WebGL draws them at interactive rates; ~1 MB over the websocket)."""


def cluster_mesh(verts: np.ndarray, faces: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Simplify a mesh by vertex clustering: vertices (V,3) [m] snapped to a ``cell`` grid [m] and merged
    (mean position), faces (F,3) that collapse dropped. ``cell`` 0 returns the mesh unchanged."""
    if cell <= 0:
        return verts, faces
    keys = np.floor(verts / cell).astype(np.int64)
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    n = int(inv.max()) + 1
    out = np.zeros((n, 3))
    np.add.at(out, inv, verts)
    out /= np.bincount(inv, minlength=n)[:, None]
    f = inv[faces]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    f = np.unique(np.sort(f[keep], axis=1), axis=0, return_index=True)[1]
    return out, inv[faces][keep][np.sort(f)]


class G1Meshes:
    """The G1's visual meshes per body (body frame), and forward kinematics for world body poses."""

    def __init__(self, cell: float = MESH_CELL_M) -> None:
        self.model = m = mujoco.MjModel.from_xml_path(str(robot_xml_path()))
        self.data = mujoco.MjData(m)
        names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(m.njnt)]
        hinge = [n for j, n in enumerate(names) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]
        if tuple(hinge) != tuple(G1_JOINT_NAMES):
            raise ValueError(f"{robot_xml_path()}: joint order differs from G1_JOINT_NAMES")
        self.body_names: list[str] = []
        self.body_ids: list[int] = []
        self.meshes: list[tuple[np.ndarray, np.ndarray]] = []  # per body: vertices (V,3) [m], faces (F,3)
        per_body: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for g in range(m.ngeom):
            if m.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH:
                continue
            mid = m.geom_dataid[g]
            v0, nv = m.mesh_vertadr[mid], m.mesh_vertnum[mid]
            f0, nf = m.mesh_faceadr[mid], m.mesh_facenum[mid]
            rot = np.zeros(9)
            mujoco.mju_quat2Mat(rot, m.geom_quat[g])
            verts = m.mesh_vert[v0 : v0 + nv] @ rot.reshape(3, 3).T + m.geom_pos[g]
            per_body.setdefault(int(m.geom_bodyid[g]), []).append((verts, m.mesh_face[f0 : f0 + nf]))
        for b, parts in sorted(per_body.items()):
            verts, faces, off = [], [], 0
            for v, f in parts:
                verts.append(v)
                faces.append(f + off)
                off += len(v)
            self.body_ids.append(b)
            self.body_names.append(mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b))
            v, f = cluster_mesh(np.concatenate(verts), np.concatenate(faces), cell)
            self.meshes.append((v.astype(np.float32), f.astype(np.uint32)))

    def mesh_geoms(self) -> list[tuple[int, str]]:
        """(geom id, ``file://`` URI of its STL) of every visual mesh (for RViz mesh markers)."""
        m = self.model
        base = robot_xml_path().parent / "assets"
        out = []
        for g in range(m.ngeom):
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
                mid = m.geom_dataid[g]
                file = m.paths[m.mesh_pathadr[mid] :].split(b"\0", 1)[0].decode()
                out.append((g, (base / file).resolve().as_uri()))
        return out

    def geom_poses(self, pose: Pose, geoms: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """World positions (G,3) [m] and quaternions (G,4) wxyz of ``geoms`` at ``pose``."""
        self.body_poses(pose)
        quats = np.zeros((len(geoms), 4))
        for i, g in enumerate(geoms):
            mujoco.mju_mat2Quat(quats[i], self.data.geom_xmat[g])
        return self.data.geom_xpos[geoms].copy(), quats

    def body_poses(self, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        """World positions (B,3) [m] and quaternions (B,4) wxyz of the meshed bodies at ``pose``."""
        d = self.data
        d.qpos[:3], d.qpos[3:7], d.qpos[7:] = pose.root_pos, pose.root_quat, pose.q
        mujoco.mj_kinematics(self.model, d)
        return d.xpos[self.body_ids].copy(), d.xquat[self.body_ids].copy()


class ViewerScene:
    """Robot + ghost in a viser server; :meth:`show` moves them. Thread-safe (one lock)."""

    def __init__(self, server, meshes: G1Meshes | None = None) -> None:
        self.server = server
        self.meshes = meshes or G1Meshes()
        self.lock = threading.Lock()
        server.scene.set_up_direction("+z")
        server.scene.add_grid("/ground", width=20.0, height=20.0, cell_size=0.5)
        self.robot = self._add("/robot", ROBOT_COLOR, None)
        self.ghost = self._add("/ghost", GHOST_COLOR, GHOST_OPACITY)
        self.updates = 0

    def _add(self, root: str, color, opacity):
        frames = []
        for name, (v, f) in zip(self.meshes.body_names, self.meshes.meshes, strict=True):
            frame = self.server.scene.add_frame(f"{root}/{name}", show_axes=False, visible=False)
            self.server.scene.add_mesh_simple(
                f"{root}/{name}/mesh",
                v,
                f,
                color=color,
                opacity=opacity,
                cast_shadow=False,
                receive_shadow=False,
            )
            frames.append(frame)
        return frames

    def _move(self, frames, pose: Pose | None) -> None:
        if pose is None:
            for fr in frames:
                fr.visible = False
            return
        pos, quat = self.meshes.body_poses(pose)
        for fr, p, q in zip(frames, pos, quat, strict=True):
            fr.position, fr.wxyz, fr.visible = p, q, True

    def show(self, robot: Pose | None, ghost: Pose | None) -> None:
        """Move the robot and the ghost (None: hidden) in one message batch."""
        with self.lock, self.server.atomic():
            self._move(self.robot, robot)
            self._move(self.ghost, ghost)
        self.server.flush()
        self.updates += 1


def joint_error(robot: Pose | None, ghost: Pose | None) -> tuple[float, float]:
    """Mean |q - q_ref| over the 29 joints [rad] and the root position distance [m] (nan: missing)."""
    if robot is None or ghost is None:
        return float("nan"), float("nan")
    return float(np.mean(np.abs(robot.q - ghost.q))), float(np.linalg.norm(robot.root_pos - ghost.root_pos))


CAMERA_OFFSET = np.array([1.4, -1.8, 0.35])
"""Camera position relative to the point it looks at [m] (front-left of a robot facing +x, slightly above)."""
MODE_NAMES = {0: "DAMP", 1: "STAND", 2: "TRACK", 3: "HOLD"}


def robot_pose(msg, ref: Pose | None) -> Pose:
    """A RobotState as a :class:`Pose` (xyzw at the message, wxyz here)."""
    q = np.asarray(msg.q, dtype=np.float64)
    if msg.has_root_truth:
        p, o = msg.root_pose.position, msg.root_pose.orientation
        return Pose(np.array([p.x, p.y, p.z]), np.array([o.w, o.x, o.y, o.z]), q)
    o = msg.imu_orientation  # no root truth (real robot): IMU attitude at the reference's position
    pos = ref.root_pos if ref is not None else np.array([0.0, 0.0, 0.76])
    return Pose(pos.copy(), np.array([o.w, o.x, o.y, o.z]), q)


def reference_pose(msg) -> Pose | None:
    """A MotionReference as a :class:`Pose` (None when not valid)."""
    if not msg.valid:
        return None
    p, o = msg.root_position, msg.root_orientation
    return Pose(
        np.array([p.x, p.y, p.z]), np.array([o.w, o.x, o.y, o.z]), np.asarray(msg.joint_positions, float)
    )


@dataclass
class Readout:
    """What the side panel shows."""

    t: float = float("nan")  # robot state stamp [s]
    mode: str = "-"
    state: str = "-"
    reason: str = ""
    policy: str = "-"
    clip: str = "-"
    fault: bool = False

    def markdown(self, robot: Pose | None, ghost: Pose | None) -> str:
        err, root = joint_error(robot, ghost)
        fault = " **FAULT**" if self.fault else ""
        lines = [
            f"**mode** {self.mode}{fault} · **state** {self.state}",
            f"**joint error** {err:.3f} rad · **root offset** {root:.2f} m",
            f"**t** {self.t:.2f} s · **policy** {self.policy} · **clip** {self.clip}",
        ]
        if self.reason:
            lines.append(f"_{self.reason}_")
        return "  \n".join(lines)


def make_server(host: str, port: int):
    """A viser server on ``host:port`` with the camera looking at a standing G1."""
    import viser

    server = viser.ViserServer(host=host, port=port, label="hgpt viewer", verbose=False)
    server.initial_camera.position = CAMERA_OFFSET + np.array([0.0, 0.0, 0.75])
    server.initial_camera.look_at = (0.0, 0.0, 0.75)

    @server.on_client_connect
    def _(client) -> None:  # each new page: close to the robot
        with client.atomic():
            client.camera.position = CAMERA_OFFSET + np.array([0.0, 0.0, 0.75])
            client.camera.look_at = (0.0, 0.0, 0.75)

    return server
