# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The oldest Airflow the provider declares (pyproject's floor), in a venv of its own.
COMPAT_VENV := .venv-af31
COMPAT_BIN := $(COMPAT_VENV)/bin
COMPAT_CONSTRAINTS := constraints-airflow-3.1.txt
AIRFLOW_FLOOR := 3.1.0
AIRFLOW_FLOOR_RELEASED := 2025-09-26T00:00:00Z

.PHONY: demo test test-compat lint unit integration e2e bench constraints constraints-compat clean

$(BIN)/activate: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(BIN)/activate

$(COMPAT_BIN)/activate: pyproject.toml $(COMPAT_CONSTRAINTS)
	test -x $(COMPAT_BIN)/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_BIN)/python -m pip install --quiet --upgrade pip
	$(COMPAT_BIN)/python -m pip install --quiet -c $(COMPAT_CONSTRAINTS) -e ".[test]"
	touch $(COMPAT_BIN)/activate

## make demo: the main job — example DAGs run by Airflow against the local Drip emulator
demo: $(BIN)/activate
	bash scripts/demo.sh

## make test: ruff, then every test (unit, integration over HTTP, end-to-end in a real Airflow),
## then the compatibility subset on the oldest declared Airflow (test-compat)
test: $(BIN)/activate lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests --ignore=tests/compat/test_dags.py
	$(MAKE) test-compat

## make test-compat: imports, provider info, both operators, the sensor and two deferrals through
## `airflow dags test`, and the OpenLineage events, on Airflow $(AIRFLOW_FLOOR) ($(COMPAT_VENV),
## built if missing)
test-compat: $(COMPAT_BIN)/activate
	$(COMPAT_BIN)/python -m pytest -q -p no:cacheprovider tests/compat tests/integration/test_lineage.py

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

## Regenerate the floor's pins as Airflow's own constraints would have them: every package at its
## newest release on PyPI on the floor's release day. PyPI only (PIP_CONFIG_FILE=/dev/null): a
## local index without upload times would let later releases through --uploaded-prior-to.
constraints-compat:
	rm -rf $(COMPAT_VENV)
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_BIN)/python -m pip install --quiet --upgrade "pip>=26.3"
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(COMPAT_BIN)/python -m pip install --quiet \
		--uploaded-prior-to $(AIRFLOW_FLOOR_RELEASED) "apache-airflow==$(AIRFLOW_FLOOR)" -e ".[test]"
	$(COMPAT_BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > $(COMPAT_CONSTRAINTS)
	touch $(COMPAT_BIN)/activate

clean:
	rm -rf $(VENV) $(COMPAT_VENV) .pytest_cache .ruff_cache
