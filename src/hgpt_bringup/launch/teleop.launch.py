"""ros2 launch hgpt_bringup teleop.launch.py robot:=sim|real source:=file|mocap|bag motion:=...
policy:=... lockstep:=true (sim) record:=true rviz:=true"""

from hgpt_bringup.launch_description import make_launch_description


def generate_launch_description():
    return make_launch_description("teleop")
