"""File readers shared by training, benchmarks and engines: images, hole masks, attribute labels (Qt- and torch-free)."""
