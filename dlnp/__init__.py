"""dlnp: the "Learn Deep Learning with NumPy" kit (and, in a student release, its self-check)."""

__version__ = "0.1.0"
