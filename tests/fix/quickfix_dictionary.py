"""Where QuickFIX (PyPI `quickfix-ssl`) keeps its FIX44 data dictionary; CI fails without it."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import pytest


def fix44_xml() -> Path:
    """The FIX44.xml QuickFIX ships (installed under <prefix>/share/quickfix)."""
    path = Path(sysconfig.get_paths()["data"]) / "share" / "quickfix" / "FIX44.xml"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"QuickFIX's FIX44 dictionary is required under CI=true: {path}")
        pytest.skip("quickfix-ssl is not installed (pip install -e '.[dev]')")
    return path
