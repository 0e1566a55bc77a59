"""Real Unitree G1 bridge (unitree_hg LowCmd/LowState) with a safety state machine."""
