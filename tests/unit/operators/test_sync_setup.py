"""The operator's translation of parameters into sync parts."""

from __future__ import annotations

import pytest

from airflow_provider_drip.exceptions import DripConfigError
from airflow_provider_drip.operators.sync_setup import account_url, as_bool, check_sync_mode


def test_account_link_points_at_drip_for_the_real_api_and_at_the_emulator_otherwise():
    assert account_url("https://api.getdrip.com", "123") == "https://www.getdrip.com/123/"
    assert account_url("http://127.0.0.1:8765", "123") == "http://127.0.0.1:8765/"


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("False", False), ("true", True)])
def test_full_refresh_takes_a_bool_or_the_text_a_template_renders(value, expected):
    assert as_bool(value, "full_refresh") is expected


def test_a_flag_that_is_neither_true_nor_false_is_refused():
    with pytest.raises(DripConfigError, match="full_refresh must be true or false"):
        as_bool("maybe", "full_refresh")


def test_sync_mode_and_key_fields_are_checked_up_front():
    with pytest.raises(DripConfigError, match="sync_mode must be one of"):
        check_sync_mode("incremental", None, "t")
    with pytest.raises(DripConfigError, match="key_fields"):
        check_sync_mode("changed", [], "t")
    check_sync_mode("changed", ["email"], "t")
