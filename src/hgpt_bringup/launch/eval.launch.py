"""ros2 launch hgpt_bringup eval.launch.py robot:=sim source:=file motion:=... policy:=... lockstep:=true"""

from hgpt_bringup.launch_description import make_launch_description


def generate_launch_description():
    return make_launch_description("eval")
