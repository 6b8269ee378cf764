"""Training entry points (one module per model), all on the shared harness in harness.py."""
