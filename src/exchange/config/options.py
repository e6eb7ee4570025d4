"""Command-line options derived from the settings, and back: argv for a child process.

`COMMANDS` says which settings each `exchange` subcommand takes, and under
which flag when a subcommand names a shared setting its own way (the
gateway's `--engine` is `engine.endpoint`). Everything else about an option
(type, choices, default, help) comes from the setting's declaration.
"""

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from exchange.config.fields import Setting, section, settings, value
from exchange.config.model import ConfigError, ExchangeConfig, load, validated


@dataclass(frozen=True)
class Option:
    setting: Setting
    flag: str
    help: str


def _own(name: str, *, but: tuple[str, ...] = ()) -> list[Option]:
    """A part's own settings under their own flags (`but`: those a command names otherwise)."""
    return [Option(s, s.flag, s.description) for s in section(name) if s.path[-1] not in but]


def _as(path: str, flag: str | None = None, help: str | None = None) -> Option:
    setting = settings()[tuple(path.split("."))]
    return Option(setting, flag or setting.flag, help or setting.description)


_DATA_DIR = _as("data_dir")
_JOURNAL = _as("journal")
_KEYS = _as("keys")
_ENGINE = _as("engine.endpoint", "--engine", "the engine's requests")
_FEED = _as("engine.publish", "--publish", "the engine's batch feed")
_GAPS = [_as("engine.journal_service"), _as("engine.remote_journal")]
_SHARDS = _as("engine.account_shards")

COMMANDS: dict[str, list[Option]] = {
    "engine": [_DATA_DIR, _KEYS, *_own("engine"), *_own("cluster")],
    "standby": [_DATA_DIR, _KEYS, *_own("engine")],
    "gateway": [
        _DATA_DIR,
        _JOURNAL,
        _KEYS,
        _as("accounts_db"),
        _ENGINE,
        _FEED,
        *_GAPS,
        _SHARDS,
        _as("reporter.db_url", help="the reporter's database, for history"),
        *_own("gateway"),
    ],
    "marketdata": [_DATA_DIR, _JOURNAL, _KEYS, _FEED, *_GAPS, *_own("marketdata")],
    "fix": [
        _DATA_DIR,
        _JOURNAL,
        _KEYS,
        _as("accounts_db"),
        _ENGINE,
        _FEED,
        *_GAPS,
        _SHARDS,
        *_own("fix"),
    ],
    "reporter": [
        _DATA_DIR,
        _JOURNAL,
        _as("reporter.db_url", "--db-url"),
        *_own("reporter", but=("db_url",)),
    ],
    "migrate": [_DATA_DIR, _KEYS, _as("accounts_db"), _as("fix.db_url"), _as("reporter.db_url")],
    "reconcile": [_DATA_DIR, _as("reporter.db_url", "--db-url")],
    "run": [
        _DATA_DIR,
        _KEYS,
        _as("gateway.port", help="the gateway's HTTP port"),
        _as("marketdata.port", "--marketdata-port", "the public page's port"),
        _as("fix.port", "--fix-port", "the FIX acceptor's port"),
        _as("engine.endpoint", help="engine requests"),
        _as("engine.publish", help="engine batches"),
        _as("engine.journal_service", help="engine journal ranges (for remote followers)"),
    ],
}
"""Per subcommand, the settings it takes on its command line (all of them come from --config)."""


def _dest(option: Option) -> str:
    return "setting:" + option.setting.dotted


def add_options(parser: argparse.ArgumentParser, command: str) -> None:
    """`--config FILE` and the command's settings; an option not given leaves the file's value."""
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="a TOML file of settings (see docs/CONFIG.md)"
    )
    for option in COMMANDS[command]:
        setting = option.setting
        shown = setting.default if setting.default != "" else None
        text = option.help + (f" (default {shown})" if shown is not None and setting.kind is not
                              bool and "default" not in option.help else "")  # fmt: skip
        common: dict[str, Any] = {"dest": _dest(option), "default": argparse.SUPPRESS,
                                  "help": text.replace("%", "%%")}  # fmt: skip
        if setting.kind is bool:
            parser.add_argument(option.flag, action=argparse.BooleanOptionalAction, **common)
        else:
            parser.add_argument(
                option.flag, type=setting.kind, choices=setting.choices,
                metavar=setting.metavar or option.flag[2:].upper().replace("-", "_"),
                **common,
            )  # fmt: skip


def _set(data: dict[str, Any], path: tuple[str, ...], new: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = new


def compose(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> ExchangeConfig:
    """The config a command runs with: its --config file, the environment, then its options."""
    base = load(getattr(args, "config", None), environ)
    data = msgspec.to_builtins(base)
    for dest, given in vars(args).items():
        if dest.startswith("setting:"):
            _set(data, tuple(dest.removeprefix("setting:").split(".")), given)
    return validated(data)


def argv(command: str, config: ExchangeConfig) -> list[str]:
    """The options that start `command` with `config`: every setting it takes that is not at
    its default, except secrets (see `secret_env`). The data directory is always given."""
    words: list[str] = []
    for option in COMMANDS[command]:
        setting = option.setting
        current = value(config, setting.path)
        if setting.secret or (current == setting.default and setting.path != ("data_dir",)):
            continue
        if setting.kind is bool:
            words.append(option.flag if current else "--no-" + option.flag.removeprefix("--"))
        else:
            words.append(f"{option.flag}={current}")  # `=`: a value may start with a dash
    return words


def secret_env(command: str, config: ExchangeConfig) -> dict[str, str]:
    """The environment variables that carry `command`'s secret settings (database URLs with
    passwords): a child's environment is private to its owner, its command line is not."""
    env: dict[str, str] = {}
    for option in COMMANDS[command]:
        setting = option.setting
        current = value(config, setting.path)
        if setting.secret and setting.env and current != setting.default:
            env[setting.env] = str(current)
    return env


__all__ = ["COMMANDS", "ConfigError", "add_options", "argv", "compose", "secret_env"]
