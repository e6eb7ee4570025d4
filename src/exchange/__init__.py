"""Exchange: an open-source stock exchange with a deterministic core."""

__version__ = "0.1.0"
