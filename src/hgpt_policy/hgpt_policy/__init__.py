"""Causal Transformer tracking policy runtime and baselines."""
