"""Every leaf setting of `ExchangeConfig`, read from the types: path, kind, default, help, flag.

The command line, the environment overlay and the launcher's argv all come
from this one walk over the types, so an option's name, type, default and
help are written once, where the setting is declared.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec.inspect as mi

from exchange.config.model import ExchangeConfig


@dataclass(frozen=True)
class Setting:
    path: tuple[str, ...]
    """("gateway", "port"), or ("data_dir",) for a top-level one."""
    kind: type
    """int, float, str or bool."""
    default: Any
    description: str
    flag: str
    """The option's usual name: `--` and the field's name, unless the field names another."""
    choices: tuple[Any, ...] | None = None
    env: str | None = None
    """An environment variable that sets it (over the file, under the command line)."""
    secret: bool = False
    """Passed to a child process through its environment, never on its command line."""
    metavar: str | None = None

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


_KINDS: dict[Any, type] = {mi.IntType: int, mi.FloatType: float, mi.StrType: str, mi.BoolType: bool}


def _leaf(path: tuple[str, ...], field: mi.Field) -> Setting:
    info: Any = field.type
    description, extra = "", dict[str, Any]()
    while isinstance(info, mi.Metadata):
        description = (info.extra_json_schema or {}).get("description", description)
        extra = {**extra, **(info.extra or {})}
        info = info.type
    choices = None
    if isinstance(info, mi.LiteralType):
        choices = tuple(info.values)
        kind: type = type(choices[0])
    else:
        kind = _KINDS[type(info)]
    return Setting(
        path=path,
        kind=kind,
        default=field.default,
        description=description,
        flag=extra.get("flag", "--" + field.name.replace("_", "-")),
        choices=choices,
        env=extra.get("env"),
        secret=bool(extra.get("secret", False)),
        metavar=extra.get("metavar"),
    )


def _walk(struct: Any, path: tuple[str, ...]) -> Iterator[Setting]:
    for field in struct.fields:
        if isinstance(field.type, mi.StructType):
            yield from _walk(field.type, (*path, field.name))
        else:
            yield _leaf((*path, field.name), field)


@cache
def settings() -> dict[tuple[str, ...], Setting]:
    """Every leaf setting by path, in declaration order."""
    return {s.path: s for s in _walk(mi.type_info(ExchangeConfig), ())}


def env_fields() -> list[Setting]:
    return [s for s in settings().values() if s.env]


def section(name: str) -> list[Setting]:
    """The settings of one part (`gateway`, ...), or the top-level ones for ''."""
    if not name:
        return [s for s in settings().values() if len(s.path) == 1]
    return [s for s in settings().values() if s.path[0] == name and len(s.path) == 2]


def value(config: ExchangeConfig, path: tuple[str, ...]) -> Any:
    node: Any = config
    for key in path:
        node = getattr(node, key)
    return node
