# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every Airflow minor from the floor pyproject declares up to the one before .venv's (3.3), each
# in a venv of its own (.venv-af31, .venv-af32), pinned as of its release day.
AIRFLOW_FLOOR := 3.1.0
COMPAT_MINORS := 3.1 3.2
AIRFLOW_3.1 := $(AIRFLOW_FLOOR)
AIRFLOW_3.1_RELEASED := 2025-09-26T00:00:00Z
AIRFLOW_3.2 := 3.2.2
AIRFLOW_3.2_RELEASED := 2026-05-30T00:00:00Z
compat_venv = .venv-af$(subst .,,$(1))

.PHONY: demo test test-compat lint unit integration e2e bench constraints constraints-compat clean \
	$(addprefix test-compat-,$(COMPAT_MINORS)) $(addprefix constraints-compat-,$(COMPAT_MINORS))

$(BIN)/activate: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(BIN)/activate

# Per minor: its venv, its test run and its pins (make's templates: $(1) is the minor, e.g. 3.2).
define COMPAT_RULES
$(call compat_venv,$(1))/bin/activate: pyproject.toml constraints-airflow-$(1).txt
	test -x $(call compat_venv,$(1))/bin/python || $(PYTHON) -m venv $(call compat_venv,$(1))
	$(call compat_venv,$(1))/bin/python -m pip install --quiet --upgrade pip
	$(call compat_venv,$(1))/bin/python -m pip install --quiet -c constraints-airflow-$(1).txt -e ".[test]"
	touch $(call compat_venv,$(1))/bin/activate

test-compat-$(1): $(call compat_venv,$(1))/bin/activate
	$(call compat_venv,$(1))/bin/python -m pytest -q -p no:cacheprovider tests/compat tests/integration/test_lineage.py

constraints-compat-$(1):
	rm -rf $(call compat_venv,$(1))
	$(PYTHON) -m venv $(call compat_venv,$(1))
	$(call compat_venv,$(1))/bin/python -m pip install --quiet --upgrade "pip>=26.3"
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(call compat_venv,$(1))/bin/python -m pip install --quiet \
		--uploaded-prior-to $(AIRFLOW_$(1)_RELEASED) "apache-airflow==$(AIRFLOW_$(1))" -e ".[test]"
	$(call compat_venv,$(1))/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints-airflow-$(1).txt
	touch $(call compat_venv,$(1))/bin/activate
endef
$(foreach minor,$(COMPAT_MINORS),$(eval $(call COMPAT_RULES,$(minor))))

## make demo: the main job — example DAGs run by Airflow against the local Drip emulator
demo: $(BIN)/activate
	bash scripts/demo.sh

## make test: ruff, then every test (unit, integration over HTTP, end-to-end in a real Airflow),
## then the compatibility subset on every older Airflow minor (test-compat)
test: $(BIN)/activate lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests --ignore=tests/compat/test_dags.py
	$(MAKE) test-compat

## make test-compat: imports, provider info, both operators, the sensor and two deferrals through
## `airflow dags test`, and the OpenLineage events, on every older minor (COMPAT_MINORS: venvs
## built if missing)
test-compat: $(addprefix test-compat-,$(COMPAT_MINORS))

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

## Regenerate each older minor's pins as Airflow's own constraints would have them: every package
## at its newest release on PyPI on that release's day. PyPI only (PIP_CONFIG_FILE=/dev/null): a
## local index without upload times would let later releases through --uploaded-prior-to.
constraints-compat: $(addprefix constraints-compat-,$(COMPAT_MINORS))

clean:
	rm -rf $(VENV) $(foreach minor,$(COMPAT_MINORS),$(call compat_venv,$(minor))) .pytest_cache .ruff_cache
