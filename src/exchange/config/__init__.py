"""The composition root's settings: one typed, frozen config per part, composed and loaded once.

`ExchangeConfig` (model.py) is what `exchange run --config exchange.toml`
reads; `options.py` derives every subcommand's options from it and turns a
config back into a child's argv; the launcher (`exchange.launch`) starts
each service from it.
"""

from exchange.config.model import ConfigError, ExchangeConfig, load, updated, validated
from exchange.config.options import COMMANDS, add_options, argv, compose, secret_env

__all__ = [
    "COMMANDS",
    "ConfigError",
    "ExchangeConfig",
    "add_options",
    "argv",
    "compose",
    "load",
    "secret_env",
    "updated",
    "validated",
]
