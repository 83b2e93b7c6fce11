"""Repository tooling: set-up, validation, local runs and cluster commands (run with `python -m scripts.X`)."""
