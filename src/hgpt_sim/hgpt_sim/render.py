"""Offscreen video of a tracking run: the robot (grey) and the reference as a translucent blue ghost.

Rendering needs an OpenGL backend chosen when ``mujoco`` is imported (``MUJOCO_GL=egl`` or ``osmesa``), so
:func:`render_video_subprocess` renders in a fresh process with ``MUJOCO_GL`` set (default ``egl``).
Writes MP4 with imageio-ffmpeg when installed, else an animated GIF with Pillow.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import numpy as np

GHOST_PREFIX = "ref_"
GHOST_RGBA = (0.3, 0.6, 1.0, 0.35)


def build_render_model():
    """Full-mesh scene plus a capsule-only, collision-free G1 ghost (prefix ``ref_``).

    qpos = robot (36) | ghost (36).
    """
    import mujoco

    from hgpt_core.g1 import robot_xml_path, scene_xml_path

    spec = mujoco.MjSpec.from_file(str(scene_xml_path()))
    ghost = mujoco.MjSpec.from_file(str(robot_xml_path()))
    # The ghost is drawn with its collision capsules: software GL (llvmpipe) pays per mesh triangle.
    for g in list(ghost.geoms):
        if g.type == mujoco.mjtGeom.mjGEOM_MESH:
            ghost.delete(g)
        else:
            g.contype, g.conaffinity, g.material, g.group, g.rgba = 0, 0, "", 2, list(GHOST_RGBA)
    for mesh in list(ghost.meshes):
        ghost.delete(mesh)
    spec.worldbody.add_frame().attach_body(ghost.body("pelvis"), GHOST_PREFIX, "")
    spec.visual.global_.offwidth = 1920
    spec.visual.global_.offheight = 1080
    return spec.compile()


def caption_frame(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 with ``lines`` of white text on a dark band at the top (Pillow)."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    band = 4 + 13 * len(lines)
    draw.rectangle((0, 0, img.width, band), fill=(20, 20, 20))
    for i, line in enumerate(lines):
        draw.text((5, 3 + 13 * i), line, fill=(255, 255, 255))
    return np.asarray(img)


def render_frames(
    qpos: np.ndarray,
    ref_qpos: np.ndarray,
    width: int = 480,
    height: int = 360,
    stride: int = 1,
    caption: str = "",
    control_dt: float = 0.02,
    progress: bool = False,
) -> list[np.ndarray]:
    """RGB frames (H, W, 3) uint8 of robot ``qpos`` and ghost ``ref_qpos`` (T, 36 each), every ``stride``.

    With ``caption``, each frame carries it and its time ``t = k control_dt`` [s] (grey robot, blue ghost =
    reference)."""
    import mujoco
    from tqdm import tqdm

    m = build_render_model()
    d = mujoco.MjData(m)
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.distance, cam.azimuth, cam.elevation = 3.2, 135.0, -15.0
    frames = []
    with mujoco.Renderer(m, height, width) as renderer:
        steps = range(0, len(qpos), stride)
        for t in tqdm(steps, desc="rendering video", unit="frame", disable=not progress):
            d.qpos[:36], d.qpos[36:72] = qpos[t], ref_qpos[t]
            mujoco.mj_forward(m, d)
            cam.lookat[:] = (qpos[t, 0], qpos[t, 1], 0.8)
            renderer.update_scene(d, camera=cam)
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False  # 2.5x faster on llvmpipe
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
            img = renderer.render().copy()
            if caption:
                lines = [caption, f"t = {t * control_dt:5.2f} s   grey: robot, blue: reference"]
                img = caption_frame(img, lines)
            frames.append(img)
    return frames


def write_video(frames: list[np.ndarray], path: Path, fps: float) -> Path:
    """MP4 (imageio-ffmpeg) or, failing that, GIF (Pillow) next to ``path``; returns the written path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (the MP4 writer needs it)

        out = path.with_suffix(".mp4")
        with imageio.get_writer(out, fps=fps, codec="libx264", quality=7, macro_block_size=8) as w:
            for f in frames:
                w.append_data(f)
        return out
    except ImportError:
        from PIL import Image

        out = path.with_suffix(".gif")
        imgs = [Image.fromarray(f) for f in frames]
        imgs[0].save(out, save_all=True, append_images=imgs[1:], duration=int(1000 / fps), loop=0)
        return out


def _render_job(qpos, ref_qpos, path, fps, width, height, stride, queue, caption="", dt=0.02, progress=False):
    try:
        frames = render_frames(qpos, ref_qpos, width, height, stride, caption, dt, progress)
        queue.put(("ok", str(write_video(frames, Path(path), fps))))
    except Exception as exc:  # report to the parent: a missing GL backend is not a harness failure
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def render_video_subprocess(
    qpos: np.ndarray,
    ref_qpos: np.ndarray,
    path: Path,
    control_dt: float = 0.02,
    fps: float = 25.0,
    width: int = 480,
    height: int = 360,
    gl: str | None = None,
    timeout_s: float = 600.0,
    caption: str = "",
    progress: bool = False,
) -> tuple[Path | None, str]:
    """Render in a spawned process (GL chosen there). Returns (video path or None, message).

    ``caption`` (e.g. policy, clip, "first N s of M") is written on every frame with its time."""
    gl = gl or os.environ.get("MUJOCO_GL", "egl")
    stride = max(1, int(round(1.0 / (fps * control_dt))))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    args = (qpos, ref_qpos, str(path), 1.0 / (stride * control_dt), width, height, stride, queue)
    args += (caption, control_dt, progress)
    proc = ctx.Process(target=_render_job, args=args)
    # The child picks its GL backend when it imports mujoco (possibly while unpickling): set it before start.
    previous = os.environ.get("MUJOCO_GL")
    os.environ["MUJOCO_GL"] = gl
    try:
        proc.start()
    finally:
        if previous is None:
            del os.environ["MUJOCO_GL"]
        else:
            os.environ["MUJOCO_GL"] = previous
    try:
        status, msg = queue.get(timeout=timeout_s)
    except Exception:
        status, msg = "error", f"renderer did not answer within {timeout_s} s"
    proc.join(timeout=10)
    if proc.is_alive():
        proc.kill()
    return (Path(msg), "ok") if status == "ok" else (None, f"no video (MUJOCO_GL={gl}): {msg}")


def gl_available(gl: str | None = None) -> tuple[bool, str]:
    """Whether offscreen rendering works here (tries a 2-frame render in a subprocess)."""
    q = np.zeros((2, 36))
    q[:, 2], q[:, 3] = 0.79, 1.0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out, msg = render_video_subprocess(
            q, q, Path(tmp) / "probe", fps=50, width=64, height=48, gl=gl, timeout_s=120
        )
        return out is not None, msg
