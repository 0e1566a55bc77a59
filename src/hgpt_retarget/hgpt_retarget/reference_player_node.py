"""reference_player: streams a clip on /hgpt/reference at the control rate; /hgpt/load_motion swaps it."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rosgraph_msgs.msg import Clock

from hgpt_core.errors import HgptError
from hgpt_core.stamps import stamp_to_sec
from hgpt_msgs.msg import MotionReference
from hgpt_msgs.srv import LoadMotion
from hgpt_retarget.msg_conv import reference_frame_to_msg
from hgpt_retarget.player import PlausibleFrames, ReferencePlayer
from hgpt_ros.node_main import run_node


class ReferencePlayerNode(Node):
    """Timer at ``rate_hz`` on the node clock (simulation time when use_sim_time is set)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("reference_player", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        self.motion = self.declare_parameter("motion", "", ro).value
        self.fps = self.declare_parameter("fps", 0.0, ro).value  # input rate of CSV files; 0 = from the file
        self.loop = self.declare_parameter("loop", False, ro).value
        self.speed = self.declare_parameter("speed", 1.0, ro).value
        rate_hz = self.declare_parameter("rate_hz", 50.0, ro).value
        # timer: publish at rate_hz on the node clock; clock: one frame per /clock message, stamped with
        # it (lock-step simulation: the policy waits for the reference of each state, so runs are exact).
        self.sync = self.declare_parameter("sync", "timer", ro).value
        if self.sync not in ("timer", "clock"):
            raise ValueError(f"sync must be 'timer' or 'clock', got {self.sync!r}")
        self.pub = self.create_publisher(MotionReference, "/hgpt/reference", 10)
        self.create_service(LoadMotion, "/hgpt/load_motion", self.on_load)
        self.player: ReferencePlayer | None = None
        self.clip_id = ""
        # looped or swapped clips: restarts re-anchored and blended (hgpt_retarget.plausible); a single
        # non-looping clip plays unaltered (eval compares it with hgpt eval)
        self.plausible: PlausibleFrames | None = None
        if self.motion:
            self.load(self.motion, self.loop, self.speed)  # a bad start-up clip is an error: raise
        if self.sync == "timer":
            self.create_timer(1.0 / rate_hz, self.on_timer)
        else:
            self.create_subscription(Clock, "/clock", self.on_clock, 10)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def load(self, path: str, loop: bool, speed: float) -> ReferencePlayer:
        player = ReferencePlayer.from_file(path, fps=self.fps or None, loop=loop, speed=speed)
        if self.plausible is None and (loop or self.player is not None):
            self.plausible = PlausibleFrames()  # a loop restarts; a swap jumps from the clip playing now
        self.player, self.clip_id = player, player.ref.name
        self.get_logger().info(
            f"playing '{self.clip_id}' ({player.duration:.1f} s, loop={loop}, speed={speed})"
        )
        if player.ref.upsample_note:
            self.get_logger().warning(player.ref.upsample_note)
        return player

    def on_load(self, req: LoadMotion.Request, res: LoadMotion.Response) -> LoadMotion.Response:
        try:
            player = self.load(req.path, req.loop, req.speed or 1.0)
        except (HgptError, ValueError, OSError) as exc:
            res.success, res.message = False, str(exc)
            return res
        res.success, res.message, res.duration_s = True, f"loaded {self.clip_id}", player.duration
        return res

    def on_timer(self) -> None:
        self.publish_at(self.now(), self.get_clock().now().to_msg())

    def on_clock(self, msg: Clock) -> None:
        self.publish_at(stamp_to_sec(msg.clock), msg.clock)

    def publish_at(self, now: float, stamp: Time) -> None:
        """Publish the frame at ``now`` [s] stamped ``stamp``."""
        if self.player is None or not self.context.ok():
            return
        self.player.play(now)  # starts on the first tick after a load
        frame = self.player.frame(now)
        if self.plausible is not None:
            frame = self.plausible(frame, now)
            if self.plausible.last_event:
                self.get_logger().info(f"reference: {self.plausible.last_event}", throttle_duration_sec=1.0)
        index = self.player.frame_index(now)
        self.pub.publish(reference_frame_to_msg(frame, stamp, self.clip_id, index))


def main(args: list[str] | None = None) -> None:
    run_node(ReferencePlayerNode, args=args)


if __name__ == "__main__":
    main()
