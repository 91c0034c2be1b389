"""Every module of the provider imports, and Airflow finds the provider, on the Airflow that runs
the tests (``make test-compat`` runs them on the oldest declared minor).

Importing the modules is what broke on Airflow 3.1 (``from airflow.sdk import conf``), so this
imports all of them, not only the ones the DAG test happens to touch.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import subprocess
import sys
from importlib.metadata import entry_points, requires, version
from pathlib import Path

import airflow
import jsonschema
from packaging.requirements import Requirement
from packaging.version import Version

import airflow_provider_drip

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(airflow_provider_drip.__path__, "airflow_provider_drip.")
    if not info.name.endswith("__main__")
)


def test_installed_airflow_is_one_the_distribution_claims() -> None:
    (airflow_req,) = [
        req
        for req in map(Requirement, requires("airflow-provider-drip") or [])
        if req.name == "apache-airflow" and req.marker is None
    ]
    assert Version(version("apache-airflow")) in airflow_req.specifier


IMPORT_ALL = """
import importlib, json, sys, traceback, warnings
# Not ours, and the only exception: under Airflow 3.2.2's pins, opentelemetry-api (imported by
# airflow.settings) reads entry points through the dict interface Python 3.11 deprecates.
warnings.filterwarnings(
    "ignore", "SelectableGroups dict interface", DeprecationWarning, r"opentelemetry\\."
)
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        failed[name] = traceback.format_exc(limit=-3)
print(json.dumps(failed))
"""


def test_every_module_imports_without_warnings() -> None:
    """In a fresh interpreter: in this one an earlier import would hide a module's warnings."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", IMPORT_ALL, *MODULES],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{name}:\n{tb}" for name, tb in failed.items())
    assert len(MODULES) > 30 and "airflow_provider_drip.operators.drip" in MODULES


def test_compat_names_resolve() -> None:
    from airflow_provider_drip import compat

    assert compat.conf.getboolean("operators", "default_deferrable", fallback=False) is False
    assert issubclass(compat.AirflowFailException, Exception)
    assert callable(compat.mask_secret)


def test_provider_info_is_found_and_valid_for_this_airflow() -> None:
    (ep,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value == "airflow_provider_drip:get_provider_info"
    ]
    info = ep.load()()
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)


def test_providers_manager_lists_the_drip_hook_and_form() -> None:
    """3.2+ reads the form from provider info; 3.1 asks the hook, and only with wtforms
    (flask-appbuilder) installed, which a plain ``apache-airflow`` 3.1 does not have: then no
    provider's form customisation reaches the UI, and the hook's own answer must still be valid.
    """
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_drip.hooks.drip import DripHook

    manager = ProvidersManager()
    hook = manager.hooks["drip"]
    assert hook is not None and hook.hook_class_name.endswith("DripHook")
    assert hook.hook_name == "Drip"
    behaviour = manager.field_behaviours.get("drip")
    if behaviour is None:
        assert Version(version("apache-airflow")) < Version("3.2")
        assert importlib.util.find_spec("wtforms") is None
        behaviour = DripHook.get_ui_field_behaviour()
    schema_path = Path(airflow.__file__).parent / "customized_form_field_behaviours.schema.json"
    jsonschema.validate(behaviour, json.loads(schema_path.read_text()))
    assert "port" in behaviour["hidden_fields"]
    assert behaviour["relabeling"]["login"] == "Account ID"
