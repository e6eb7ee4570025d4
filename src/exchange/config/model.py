"""`ExchangeConfig`: the whole exchange's settings, one section per part, loadable from TOML.

Each part owns its section (`exchange.engine.settings`, ...); this module
only composes them and resolves what depends on the data directory or the
environment. Precedence, highest first: a command-line option, an
environment variable named in the field's metadata (`extra={"env": ...}`),
the TOML file, the default. Unknown keys in the file are errors.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from exchange.cluster.settings import ClusterSettings
from exchange.engine.settings import EngineSettings
from exchange.fix.settings import FixSettings
from exchange.gateway.settings import GatewaySettings
from exchange.marketdata.settings import MarketDataSettings
from exchange.reporter.settings import ReporterSettings


class ConfigError(ValueError):
    """A config file or option that cannot be used: unknown key, wrong type, value out of range."""


class ExchangeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    data_dir: Annotated[
        str,
        Meta(
            description="the data directory (default $EXCHANGE_DATA_DIR or ./var)",
            extra={"env": "EXCHANGE_DATA_DIR"},
        ),
    ] = "./var"
    journal: Annotated[
        str, Meta(description="the engine's journal dir (default: <data dir>/journal)")
    ] = ""
    keys: Annotated[
        str,
        Meta(
            description="the engine's CURVE keys, shared by every service and cluster node "
            "(default: keys/ in the engine's data dir, beside the journal)"
        ),
    ] = ""
    accounts_db: Annotated[
        str,
        Meta(
            description="the accounts database, SQLAlchemy URL (default $EXCHANGE_DB_URL or "
            "<data dir>/accounts.db)",
            extra={"flag": "--db-url", "env": "EXCHANGE_DB_URL", "secret": True},
        ),
    ] = ""
    engine: EngineSettings = msgspec.field(default_factory=EngineSettings)
    cluster: ClusterSettings = msgspec.field(default_factory=ClusterSettings)
    gateway: GatewaySettings = msgspec.field(default_factory=GatewaySettings)
    marketdata: MarketDataSettings = msgspec.field(default_factory=MarketDataSettings)
    fix: FixSettings = msgspec.field(default_factory=FixSettings)
    reporter: ReporterSettings = msgspec.field(default_factory=ReporterSettings)

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    @property
    def journal_dir(self) -> Path:
        return Path(self.journal) if self.journal else self.root / "journal"

    @property
    def keys_dir(self) -> Path:
        return Path(self.keys) if self.keys else self.journal_dir.parent / "keys"

    @property
    def accounts_url(self) -> str:
        return self.accounts_db or f"sqlite:///{self.root / 'accounts.db'}"

    @property
    def reports_url(self) -> str:
        return self.reporter.db_url or f"sqlite:///{self.root / 'reports.db'}"

    @property
    def fix_sessions_url(self) -> str:
        return self.fix.db_url or f"sqlite:///{self.root / 'fix-sessions.db'}"


def validated(data: Mapping[str, Any]) -> ExchangeConfig:
    """The config these builtins describe, every constraint checked; ConfigError otherwise."""
    try:
        return msgspec.convert(data, ExchangeConfig)
    except msgspec.ValidationError as error:
        raise ConfigError(str(error)) from None


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> ExchangeConfig:
    """The file's settings (none: the defaults) with the environment's variables over them."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = msgspec.toml.decode(path.read_bytes())
        except OSError as error:
            raise ConfigError(f"cannot read {path}: {error.strerror}") from None
        except msgspec.DecodeError as error:
            raise ConfigError(f"{path}: {error}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: not a TOML table")
    from exchange.config.fields import env_fields

    environ = os.environ if environ is None else environ
    for field in env_fields():
        value = environ.get(field.env or "")
        if value:
            section = data
            for key in field.path[:-1]:
                section = section.setdefault(key, {})
                if not isinstance(section, dict):
                    raise ConfigError(f"{'.'.join(field.path[:-1])}: not a table")
            if field.kind in (int, float):  # a number from the environment (the workers)
                try:
                    section[field.path[-1]] = field.kind(value)
                except ValueError:
                    raise ConfigError(f"{field.env}: not a number: {value!r}") from None
            else:
                section[field.path[-1]] = value
    return validated(data)


def updated(config: ExchangeConfig, changes: Mapping[str, Any]) -> ExchangeConfig:
    """`config` with settings changed by dotted path (`{"gateway.port": 8080}`), validated."""
    data = msgspec.to_builtins(config)
    for dotted, new in changes.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        if leaf not in node:
            raise ConfigError(f"no setting {dotted!r}")
        node[leaf] = new
    return validated(data)
