"""Build hook: with EXCHANGE_COMPILE=1, compile the core's hot modules with mypyc.

The source stays plain, typed Python and is what the development install
(`pip install -e .`) runs. The compiled build is made only into its own,
non-editable environment (`make compiled`), so an extension module never
shadows an edited source file. See README, "Compiled core".
"""

import os

from setuptools import setup

COMPILED = [
    "src/exchange/core/machine.py",
    "src/exchange/core/book.py",
    "src/exchange/core/wallet.py",
    "src/exchange/core/instrument.py",
]

ext_modules = []
if os.environ.get("EXCHANGE_COMPILE") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(["--no-warn-unused-configs", *COMPILED], opt_level="3")

setup(ext_modules=ext_modules)
