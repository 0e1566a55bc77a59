"""ros2 launch hgpt_bringup replay.launch.py robot:=sim|real source:=file|bag motion:=... policy:=..."""

from hgpt_bringup.launch_description import make_launch_description


def generate_launch_description():
    return make_launch_description("replay")
