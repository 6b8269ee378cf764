"""GAN Studio: an offline image editor whose tools are generative models."""

__version__ = "0.1.0"
