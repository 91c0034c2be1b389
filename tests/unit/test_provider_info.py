"""Airflow discovers the provider: entry point, schema-valid metadata, CLI listing.

The schema test only loads ``get_provider_info``; it does not import the operator, sensor and
trigger modules the metadata names.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest
import tomllib
from packaging.requirements import Requirement

from airflow_provider_drip.version import __version__

CLI_BUDGET_S = 60


def _provider_entry_point():
    matches = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.name == "provider_info" and ep.value.startswith("airflow_provider_drip")
    ]
    assert len(matches) == 1, matches
    return matches[0]


@pytest.fixture(scope="module")
def provider_info() -> dict:
    return _provider_entry_point().load()()


def test_entry_point_belongs_to_the_distribution():
    ep = _provider_entry_point()
    assert ep.value == "airflow_provider_drip:get_provider_info"
    assert ep.dist is not None and ep.dist.metadata["Name"] == "airflow-provider-drip"
    assert ep.dist.version == __version__


def test_valid_against_airflows_schema(provider_info):
    schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(provider_info, schema)
    assert provider_info["package-name"] == "airflow-provider-drip"
    assert __version__ in provider_info["versions"]


def test_connection_type_and_field_behaviour(provider_info):
    (conn,) = provider_info["connection-types"]
    assert conn["connection-type"] == "drip"
    assert conn["hook-class-name"] == "airflow_provider_drip.hooks.drip.DripHook"
    behaviour = conn["ui-field-behaviour"]
    ui_schema = json.loads(
        (Path(airflow.__file__).parent / "customized_form_field_behaviours.schema.json").read_text()
    )
    # Airflow converts the kebab-case keys before validating (providers_manager).
    jsonschema.validate(
        {
            "hidden_fields": behaviour["hidden-fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        },
        ui_schema,
    )
    json.loads(behaviour["placeholders"]["extra"])  # the extra placeholder is valid JSON


def test_hook_matches_the_metadata(provider_info):
    from airflow_provider_drip.hooks.drip import DripHook

    (conn,) = provider_info["connection-types"]
    assert DripHook.conn_type == conn["connection-type"]
    assert DripHook.default_conn_name == "drip_default"
    assert DripHook.conn_name_attr == "drip_conn_id"
    assert "airflow_provider_drip.hooks.drip" in provider_info["hooks"][0]["python-modules"]


def _cli(args: list[str], home: Path) -> str:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("PYTEST_CURRENT_TEST", None)
    airflow_bin = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow_bin), *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_BUDGET_S,
        check=True,
    )
    return done.stdout


def test_cli_lists_provider_and_connection_type(tmp_path):
    started = time.monotonic()
    try:
        providers = json.loads(_cli(["providers", "list"], tmp_path))
        hooks = json.loads(_cli(["providers", "hooks"], tmp_path))
    except subprocess.TimeoutExpired:
        pytest.skip(f"airflow CLI took more than {CLI_BUDGET_S}s")
    assert time.monotonic() - started < 2 * CLI_BUDGET_S
    ours = [p for p in providers if p["package_name"] == "airflow-provider-drip"]
    assert ours and ours[0]["version"] == __version__
    (drip,) = [h for h in hooks if h["connection_type"] == "drip"]
    assert drip["class"] == "airflow_provider_drip.hooks.drip.DripHook"
    assert drip["conn_id_attribute_name"] == "drip_conn_id"
    assert drip["package_name"] == "airflow-provider-drip"
    assert drip["hook_name"] == "Drip"


def test_declared_airflow_floor_is_the_one_ci_tests() -> None:
    """pyproject's ``apache-airflow>=X`` is exactly the Airflow pinned for ``make test-compat``."""
    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    (req,) = [r for r in map(Requirement, project["dependencies"]) if r.name == "apache-airflow"]
    (floor,) = [spec.version for spec in req.specifier if spec.operator == ">="]
    major_minor = ".".join(floor.split(".")[:2])
    pins = (root / f"constraints-airflow-{major_minor}.txt").read_text()
    assert re.search(rf"^apache-airflow=={re.escape(floor)}$", pins, re.MULTILINE), floor
    makefile = (root / "Makefile").read_text()
    assert re.search(rf"^AIRFLOW_FLOOR := {re.escape(floor)}$", makefile, re.MULTILINE)


def test_every_airflow_minor_from_the_floor_to_the_newest_is_tested() -> None:
    """``.venv`` (constraints.txt) holds the newest minor; ``make test-compat`` every older one
    down to the floor, each pinned by its own constraints file."""
    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text()
    newest = re.search(
        r"^apache-airflow==(\d+)\.(\d+)\.", (root / "constraints.txt").read_text(), re.MULTILINE
    )
    floor = re.search(r"^AIRFLOW_FLOOR := (\d+)\.(\d+)\.\d+$", makefile, re.MULTILINE)
    assert newest and floor
    major = int(floor[1])
    assert int(newest[1]) == major  # a new major is a decision, not a test parameter
    expected = [f"{major}.{m}" for m in range(int(floor[2]), int(newest[2]))]
    (listed,) = re.findall(r"^COMPAT_MINORS := (.+)$", makefile, re.MULTILINE)
    assert listed.split() == expected
    for minor in expected:
        pins = (root / f"constraints-airflow-{minor}.txt").read_text()
        assert re.search(rf"^apache-airflow=={re.escape(minor)}\.\d+$", pins, re.MULTILINE)


def test_connection_form_fields_follow_airflows_provider_yaml_schema(provider_info):
    """``provider_info.schema.json`` lets ``conn-fields`` through unchecked; the schema that
    defines it is ``provider.yaml.schema.json`` (Airflow 3.2+), so the entry is held to that."""
    (conn,) = provider_info["connection-types"]
    yaml_schema = json.loads(
        (Path(airflow.__file__).parent / "provider.yaml.schema.json").read_text()
    )
    jsonschema.validate(conn, yaml_schema["properties"]["connection-types"]["items"])
    assert conn["hook-name"] == "Drip"
    for field in conn["conn-fields"].values():
        if "default" in field["schema"]:
            jsonschema.validate(field["schema"]["default"], field["schema"])


def test_connection_form_fields_are_the_extras_the_hook_reads(provider_info):
    """Every extra the settings parse has a form field, and each field's value reaches them."""
    from airflow_provider_drip.hooks import settings

    (conn,) = provider_info["connection-types"]
    fields = conn["conn-fields"]
    source = Path(settings.__file__).read_text()
    assert set(fields) == set(re.findall(r'options\.get\("(\w+)"', source))
    assert fields["auth_type"]["schema"]["enum"] == list(settings.AUTH_TYPES)
    assert settings.DEFAULT_REQUEST_STATUS_PATH in fields["request_status_path"]["description"]

    defaults = {n: f["schema"]["default"] for n, f in fields.items() if "default" in f["schema"]}
    plain = settings.DripConnectionSettings.from_fields("drip_default", "123", "tok", None)
    from_form = settings.DripConnectionSettings.from_fields(
        "drip_default", "123", "tok", None, {**dict.fromkeys(fields), **defaults}
    )
    assert from_form == plain, "the form's defaults (empty fields null) change nothing"

    chosen = {
        "auth_type": "bearer",
        "timeout": [3, 7],
        "user_agent": "acme-data",
        "request_status_path": "/v9/{account_id}/req/{request_id}",
        "rate_limit_wait_seconds": 90,
        "gzip_requests": True,
    }
    assert set(chosen) == set(fields)
    for name, value in chosen.items():
        jsonschema.validate(value, fields[name]["schema"])
    got = settings.DripConnectionSettings.from_fields("drip_default", "123", "tok", None, chosen)
    assert (got.auth_type, got.connect_timeout, got.read_timeout) == ("bearer", 3.0, 7.0)
    assert got.user_agent.endswith(" acme-data")
    assert (got.request_status_path, got.rate_limit_wait_seconds) == (
        chosen["request_status_path"],
        90.0,
    )
    assert got.gzip_requests is True


def test_airflow_builds_the_form_from_provider_info():
    """Airflow 3.2+ reads ``hook-name`` and ``conn-fields`` without importing the hook."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    manager.initialize_providers_hooks()
    widgets = {
        key: widget
        for key, widget in manager.connection_form_widgets.items()
        if key.startswith("extra__drip__")
    }
    assert {w.field_name for w in widgets.values()} == {
        "auth_type",
        "timeout",
        "user_agent",
        "request_status_path",
        "rate_limit_wait_seconds",
        "gzip_requests",
    }
    assert widgets["extra__drip__auth_type"].field["schema"]["enum"] == ["basic", "bearer"]
    (drip,) = [
        meta
        for meta in manager.iter_connection_type_hook_ui_metadata()
        if meta.connection_type == "drip"
    ]
    assert drip.hook_name == "Drip", "the UI lists the connection type by this name"
    assert "port" in drip.field_behaviour["hidden_fields"]
