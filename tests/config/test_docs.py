"""docs/CONFIG.md lists every setting as the code declares it (type, default, meaning)."""

from __future__ import annotations

from pathlib import Path

from exchange.config.fields import Setting, settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONFIG.md"


def _default(setting: Setting) -> str:
    if setting.kind is str:
        return f'"{setting.default}"'
    if setting.kind is bool:
        return str(setting.default).lower()
    if setting.kind is int:
        return f"{setting.default:_}"
    return str(setting.default)


def tables() -> str:
    """The settings as Markdown tables, one per section, in declaration order."""
    out: list[str] = []
    current: str | None = None
    for setting in settings().values():
        section = setting.path[0] if len(setting.path) == 2 else ""
        if section != current:
            current = section
            out += ["", f"### [{section}]" if section else "### top level", ""]
            out += ["| key | type | default | what |", "|---|---|---|---|"]
        kind = " / ".join(f'"{c}"' for c in setting.choices) if setting.choices else (
            setting.kind.__name__)  # fmt: skip
        env = f" (env `{setting.env}`)" if setting.env else ""
        out.append(
            f"| `{setting.path[-1]}` | {kind} | `{_default(setting)}` | "
            f"{setting.description}{env} |"
        )
    return "\n".join(out).strip() + "\n"


def test_config_doc_lists_every_setting_as_declared() -> None:
    text = DOC.read_text()
    begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
    documented = text[text.index(begin) + len(begin) : text.index(end)]
    assert documented == tables(), (
        "docs/CONFIG.md is out of date; between the settings markers it should read:\n" + tables()
    )


def test_the_example_in_the_doc_is_a_valid_config(tmp_path: Path) -> None:
    from exchange.config import load

    text = DOC.read_text()
    example = text[text.index("```toml\n") + 8 :]
    example = example[: example.index("```")]
    path = tmp_path / "exchange.toml"
    path.write_text(example)
    config = load(path, environ={})
    assert config.engine.durability == "fsync" and config.gateway.host == "0.0.0.0"
