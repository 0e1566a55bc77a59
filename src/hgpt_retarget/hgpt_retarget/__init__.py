"""Human mocap to G1 retargeting and the reference player."""
