"""envdoctor: an environment and dependency doctor for machine-learning Python projects."""

__version__ = "0.1.0"
