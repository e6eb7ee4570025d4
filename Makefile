# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CVENV ?= .venv-compiled
CBIN := $(CVENV)/bin

.PHONY: run test lint typecheck imports unit compiled unit-compiled bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/exchange run

test: lint typecheck imports unit unit-compiled

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench setup.py
	$(BIN)/ruff format --check src tests bench setup.py

typecheck: $(BIN)/.installed
	$(BIN)/mypy

imports: $(BIN)/.installed
	$(BIN)/lint-imports

unit: $(BIN)/.installed
	$(BIN)/pytest

# The core compiled with mypyc, in its own non-editable environment (see setup.py).
$(CBIN)/.installed: pyproject.toml setup.py $(wildcard src/exchange/*/*.py)
	$(PYTHON) -m venv $(CVENV)
	$(CBIN)/python -m pip install -q --upgrade pip
	$(CBIN)/python -m pip install -q 'setuptools>=77' wheel mypy==2.4.1
	$(CBIN)/python -m pip install -q '.[dev]'
	EXCHANGE_COMPILE=1 $(CBIN)/python -m pip install -q --no-build-isolation --no-deps --force-reinstall .
	$(CBIN)/python -c "import exchange.core.machine as m; assert m.__file__.endswith('.so'), m.__file__"
	touch $@

compiled: $(CBIN)/.installed

# The core and engine tests again, against the compiled core.
unit-compiled: $(CBIN)/.installed
	$(CBIN)/python -m pytest -p no:cacheprovider tests/core tests/engine

bench: $(BIN)/.installed
	$(BIN)/python bench/core.py
	$(BIN)/python bench/journal.py

clean:
	rm -rf $(VENV) $(CVENV) build .mypy_cache .ruff_cache .pytest_cache .hypothesis
