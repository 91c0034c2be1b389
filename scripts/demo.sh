#!/usr/bin/env bash
# make demo: run the example DAGs in a real Airflow against the local Drip emulator.
# Works on a fresh clone: creates .venv and installs the package (pinned by constraints.txt when
# present) if needed, then hands over to scripts/demo.py, which cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV_PY=.venv/bin/python

if [ ! -x "$VENV_PY" ]; then
  echo "Creating .venv with $PYTHON ..."
  "$PYTHON" -m venv .venv
fi

if ! "$VENV_PY" -c "import airflow, airflow_provider_drip.operators.drip" >/dev/null 2>&1; then
  echo "Installing airflow-provider-drip and Apache Airflow into .venv (a few minutes) ..."
  "$VENV_PY" -m pip install --quiet --upgrade pip
  if [ -f constraints.txt ]; then
    "$VENV_PY" -m pip install --quiet -c constraints.txt -e ".[test]"
  else
    "$VENV_PY" -m pip install --quiet -e ".[test]"
  fi
fi

exec "$VENV_PY" scripts/demo.py "$@"
