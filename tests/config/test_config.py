"""One config: typed sections composed into ExchangeConfig, from TOML, env and options."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.cli import build_parser
from exchange.config import COMMANDS, ConfigError, ExchangeConfig, compose, load, secret_env
from exchange.config.fields import settings as all_settings
from exchange.config.model import updated
from exchange.launch import command

ROOT = Path(__file__).resolve().parents[2]

# Every option each service took before the config existed: a contract for scripts and docs.
OPTIONS_BEFORE = {
    "engine": "--data-dir --endpoint --publish --durability --calendar --max-batch "
    "--snapshot-every --cluster --node --prefix --lease-ttl",
    "standby": "--data-dir --endpoint --publish --durability --calendar --max-batch "
    "--snapshot-every",
    "gateway": "--data-dir --host --port --engine --db-url --publish --report-db-url --journal "
    "--rate-per-ip --rate-per-client --orders-per-account --applications-per-ip --tokens-per-ip "
    "--max-body-bytes --trust-proxy --max-requests --max-connections",
    "marketdata": "--data-dir --host --port --publish --journal --rate-per-ip "
    "--connections-per-ip --max-subscribers --nice --blocklist --allowlist",
    "fix": "--data-dir --host --port --engine --publish --journal --db-url --logon-timeout",
    "reporter": "--data-dir --journal --db-url --max-records --exit-when-idle",
    "migrate": "--data-dir --db-url --fix-db-url --report-db-url",
    "reconcile": "--data-dir --db-url",
    "run": "--data-dir --orders --port --marketdata-port --fix-port --no-wait --endpoint "
    "--publish --seed",
}


def _parse(*words: str) -> argparse.Namespace:
    return build_parser().parse_args(list(words))


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_option_services_took_before_is_still_taken() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, before in OPTIONS_BEFORE.items():
        missing = set(before.split()) - _flags(sub.choices[name])
        assert not missing, f"exchange {name} lost {missing}"


def test_each_default_is_declared_once_in_the_settings() -> None:
    parsed = compose(_parse("gateway"), environ={})
    assert parsed == ExchangeConfig()
    assert parsed.gateway.port == 8080 and parsed.engine.endpoint == "tcp://127.0.0.1:5555"


def test_toml_file_environment_and_options_in_that_order(tmp_path: Path) -> None:
    path = tmp_path / "exchange.toml"
    path.write_text(
        'data_dir = "/srv/exchange"\n'
        "[gateway]\nport = 9000\nrate_per_ip = 50.0\n"
        '[engine]\nendpoint = "tcp://10.0.0.1:5555"\n'
        '[reporter]\ndb_url = "sqlite:///from-file.db"\n'
    )
    args = _parse("gateway", "--config", str(path), "--port", "9001")
    config = compose(args, environ={"EXCHANGE_REPORT_DB": "postgresql://u:p@db/reports"})
    assert config.gateway.port == 9001  # the option over the file
    assert config.gateway.rate_per_ip == 50.0  # the file over the default
    assert config.engine.endpoint == "tcp://10.0.0.1:5555"
    assert config.data_dir == "/srv/exchange"
    assert config.reports_url == "postgresql://u:p@db/reports"  # the environment over the file
    assert config.journal_dir == Path("/srv/exchange/journal")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[gateway]\nprot = 9000\n", "prot"),
        ("[gatway]\nport = 9000\n", "gatway"),
        ("datadir = 'x'\n", "datadir"),
        ("[gateway]\nport = 'high'\n", "gateway.port"),
        ("[gateway]\nport = 70000\n", "gateway.port"),
        ("[engine]\ndurability = 'sometimes'\n", "engine.durability"),
        ("[gateway\n", "exchange.toml"),
    ],
)
def test_unknown_keys_and_bad_values_are_errors_naming_them(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "exchange.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load(path, environ={})
    assert named in str(error.value).replace("$.", "")


def test_a_bad_config_stops_the_command_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "exchange.toml"
    path.write_text("[fix]\nport = 9878\nlogon_timout = 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "exchange", "migrate", "--config", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "logon_timout" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_option_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError):
        compose(_parse("gateway", "--max-connections", "0"), environ={})


_values = {
    int: st.integers(1, 60_000),
    float: st.floats(0.5, 1e6, allow_nan=False),
    str: st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30),
    bool: st.booleans(),
}


@st.composite
def _configs(draw: st.DrawFn, kind: str) -> ExchangeConfig:
    changes = {}
    for option in COMMANDS[kind]:
        setting = option.setting
        if setting.choices:
            strategy = st.sampled_from(setting.choices)
        elif setting.path[-1] in ("port",):
            strategy = st.integers(1, 65535)
        elif setting.path[-1] == "nice":
            strategy = st.integers(0, 19)
        else:
            strategy = _values[setting.kind]
        if draw(st.booleans()):
            changes[setting.dotted] = draw(strategy)
    try:
        return updated(ExchangeConfig(), changes)
    except ConfigError:
        return ExchangeConfig()  # a drawn value below a bound (max_body_bytes >= 1024, ...)


@pytest.mark.parametrize("kind", ["engine", "standby", "gateway", "marketdata", "fix", "reporter"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_launchers_argv_gives_the_child_the_same_config(kind: str, data: st.DataObject) -> None:
    config = data.draw(_configs(kind))
    words = command(kind, config)
    assert words[1:4] == ["-m", "exchange", kind]
    environ = secret_env(kind, config)
    child = compose(_parse(kind, *words[4:]), environ=environ)
    for option in COMMANDS[kind]:
        path = option.setting.path
        assert _value(child, path) == _value(config, path), option.setting.dotted


def _value(config: ExchangeConfig, path: tuple[str, ...]) -> object:
    node: object = config
    for key in path:
        node = getattr(node, key)
    return node


def test_secrets_go_by_environment_never_on_the_command_line() -> None:
    secret = "postgresql://exchange:s3cret@db/accounts"
    config = updated(ExchangeConfig(), {"accounts_db": secret, "reporter.db_url": secret + "2"})
    for kind in ("gateway", "fix"):
        assert not any("s3cret" in word for word in command(kind, config))
        assert secret_env(kind, config)["EXCHANGE_DB_URL"] == secret
    assert secret_env("gateway", config)["EXCHANGE_REPORT_DB"] == secret + "2"


def test_every_setting_has_a_flag_in_some_command_or_is_file_only() -> None:
    flagged = {option.setting.path for options in COMMANDS.values() for option in options}
    assert set(all_settings()) <= flagged, set(all_settings()) - flagged


def test_the_config_round_trips_through_toml_shaped_builtins() -> None:
    config = updated(ExchangeConfig(), {"gateway.port": 1234, "cluster.etcd": "http://e:2379"})
    assert msgspec.convert(msgspec.to_builtins(config), ExchangeConfig) == config


def test_gateway_and_fix_read_one_pepper_in_the_data_dir_for_postgresql(tmp_path: Path) -> None:
    """With the accounts in PostgreSQL the pepper was looked for in $EXCHANGE_DATA_DIR or ./var,
    whatever --data-dir said; now both services are given the configured one."""
    from exchange.services import build_fix, build_gateway

    config = updated(ExchangeConfig(), {"data_dir": str(tmp_path),
                                        "accounts_db": "postgresql://u@db/accounts"})  # fmt: skip
    assert build_gateway(config).pepper_file == tmp_path / "credentials.pepper"
    assert build_fix(config).pepper_file == tmp_path / "credentials.pepper"
    sqlite = updated(config, {"accounts_db": f"sqlite:///{tmp_path / 'db' / 'accounts.db'}"})
    assert build_fix(sqlite).pepper_file == tmp_path / "db" / "credentials.pepper"


def test_a_number_comes_from_the_environment_as_a_number() -> None:
    assert load(environ={"EXCHANGE_GATEWAY_WORKERS": "3"}).gateway.workers == 3
    assert load(environ={}).gateway.workers == 0  # one per core
    with pytest.raises(ConfigError, match="EXCHANGE_GATEWAY_WORKERS"):
        load(environ={"EXCHANGE_GATEWAY_WORKERS": "three"})
