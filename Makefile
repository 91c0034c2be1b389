# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint unit integration e2e bench constraints clean

$(BIN)/activate: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(BIN)/activate

## make demo: the main job — example DAGs run by Airflow against the local Drip emulator
demo: $(BIN)/activate
	bash scripts/demo.sh

## make test: ruff, then every test (unit, integration over HTTP, end-to-end in a real Airflow)
test: $(BIN)/activate lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(BIN)/activate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(BIN)/activate
	$(BIN)/python -m pytest -q tests/unit

integration: $(BIN)/activate
	$(BIN)/python -m pytest -q tests/integration

e2e: $(BIN)/activate
	$(BIN)/python -m pytest -q -m e2e tests/e2e

bench: $(BIN)/activate
	$(BIN)/python -m bench

## Regenerate the pinned test environment from a working install.
constraints:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
