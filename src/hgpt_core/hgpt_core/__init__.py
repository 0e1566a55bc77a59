"""Pure-Python core of hgpt: G1 spec and assets, motion clips, kinematics, observation layout (no ROS)."""
