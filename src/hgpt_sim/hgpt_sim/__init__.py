"""MuJoCo G1 tracking environment and the simulation bridge node."""
