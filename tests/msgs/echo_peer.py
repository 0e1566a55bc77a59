"""A second ROS process for the round-trip tests: echoes hgpt_msgs messages and serves SetMode.

python echo_peer.py TYPE [TYPE ...]
  subscribes /hgpt_test/<TYPE>/ping and republishes every message unchanged on /hgpt_test/<TYPE>/pong;
  serves /hgpt_test/set_mode (success iff mode is MODE_TRACK); prints "ready" once all are created.
"""

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

import hgpt_msgs.msg
from hgpt_msgs.srv import SetMode


class EchoPeer(Node):
    def __init__(self, type_names: list[str]) -> None:
        super().__init__("hgpt_test_echo_peer")
        self._keep = []
        for name in type_names:
            cls = getattr(hgpt_msgs.msg, name)
            pub = self.create_publisher(cls, f"/hgpt_test/{name}/pong", 10)
            self._keep.append(self.create_subscription(cls, f"/hgpt_test/{name}/ping", pub.publish, 10))
        self.create_service(SetMode, "/hgpt_test/set_mode", self._set_mode)

    def _set_mode(self, request: SetMode.Request, response: SetMode.Response) -> SetMode.Response:
        response.success = request.mode == SetMode.Request.MODE_TRACK
        response.message = f"mode {request.mode}"
        return response


def main() -> None:
    rclpy.init()
    node = EchoPeer(sys.argv[1:])
    print("ready", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
