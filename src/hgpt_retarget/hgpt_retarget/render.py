"""Side-by-side video: the retargeted G1 (left) and the scaled human skeleton (right), offscreen MuJoCo.

    MUJOCO_GL=egl python -m hgpt_retarget.render walk.bvh --out walk.mp4

The human is drawn as capsules between landmarks, at robot scale (the targets' reference), shifted 1 m to
the right; the camera follows both. Needs an offscreen GL backend (EGL or OSMesa) and imageio-ffmpeg.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported (no display on servers)

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import tyro  # noqa: E402

from hgpt_core.g1 import scene_xml_path  # noqa: E402
from hgpt_retarget.human import load_human  # noqa: E402
from hgpt_retarget.retarget import RetargetResult, retarget_motion  # noqa: E402

BONES = (
    ("left_hip", "right_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("left_ankle", "left_toe"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("right_ankle", "right_toe"), ("hip_center", "spine_top"), ("spine_top", "head"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
)  # fmt: skip
OFFSET = np.array([1.0, 0.0, 0.0])  # human drawn 1 m to the right of the robot (camera looks along +y)


def _add_bone(scene: mujoco.MjvScene, a: np.ndarray, b: np.ndarray, rgba) -> None:
    if scene.ngeom >= scene.maxgeom:
        return
    g = scene.geoms[scene.ngeom]
    mujoco.mjv_initGeom(g, mujoco.mjtGeom.mjGEOM_CAPSULE, np.zeros(3), np.zeros(3), np.eye(3).ravel(), rgba)
    mujoco.mjv_connector(g, mujoco.mjtGeom.mjGEOM_CAPSULE, 0.02, a, b)
    scene.ngeom += 1


def render_result(res: RetargetResult, out: Path, width: int = 640, height: int = 368, fps: int = 25) -> Path:
    """Write an mp4 of a retargeting result (every ``50 / fps``-th frame)."""
    import imageio.v2 as imageio

    model = mujoco.MjModel.from_xml_path(str(scene_xml_path()))
    data = mujoco.MjData(model)
    clip, human = res.clip, res.targets.human_scaled
    cam = mujoco.MjvCamera()
    cam.type, cam.distance, cam.azimuth, cam.elevation = mujoco.mjtCamera.mjCAMERA_FREE, 3.6, 90.0, -12.0
    step = max(1, round(clip.fps / fps))
    rgba = np.array([0.9, 0.45, 0.1, 1.0])
    out.parent.mkdir(parents=True, exist_ok=True)
    with mujoco.Renderer(model, height, width) as renderer, imageio.get_writer(out, fps=fps) as writer:
        for t in range(0, clip.num_frames, step):
            data.qpos[:3], data.qpos[3:7], data.qpos[7:] = (
                clip.root_pos[t],
                clip.root_quat[t],
                clip.joint_pos[t],
            )
            mujoco.mj_forward(model, data)
            cam.lookat[:] = clip.root_pos[t] + 0.5 * OFFSET
            cam.lookat[2] = 0.6
            renderer.update_scene(data, cam)
            for a, b in BONES:
                if a in human and b in human:
                    _add_bone(renderer.scene, human[a][t] + OFFSET, human[b][t] + OFFSET, rgba)
            writer.append_data(renderer.render())
    return out


@dataclass
class Args:
    """Retarget a human motion file and render the G1 next to the human skeleton."""

    input: tyro.conf.Positional[str]
    out: Path = Path("outputs/retarget/video.mp4")
    skeleton: str | None = None
    seconds: float | None = None
    """Only the first N seconds."""


def main() -> None:
    args = tyro.cli(Args)
    motion, mapping = load_human(args.input, args.skeleton)
    if args.seconds:
        motion = motion.window(0, int(args.seconds * motion.fps))
    print(render_result(retarget_motion(motion, mapping), args.out))


if __name__ == "__main__":
    main()
