"""ROS 2 helpers of every hgpt node: ``run_node``, dataclass parameters, ``/diagnostics``, message helpers."""
