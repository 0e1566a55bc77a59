"""Launch files and configuration for the hgpt node graph."""
