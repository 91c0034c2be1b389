"""normalise_request_ids: every shape a DAG can hand the status sensor."""

from __future__ import annotations

import json

import pytest

from airflow_provider_drip.exceptions import DripConfigError
from airflow_provider_drip.sensors.request_ids import normalise_request_ids


def test_list_is_deduplicated_in_order():
    assert normalise_request_ids(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_operator_summary_dict_uses_its_request_ids():
    summary = {"records_sent": 3, "batches_sent": 1, "request_ids": ["r1", "r2", "r1"]}
    assert normalise_request_ids(summary) == ["r1", "r2"]


def test_mapped_operator_xcoms_are_flattened():
    outputs = ({"request_ids": ["a", "b"]}, {"request_ids": ["c"]}, ["d", "a"])
    assert normalise_request_ids(outputs) == ["a", "b", "c", "d"]


def test_json_text_of_list_and_of_summary():
    assert normalise_request_ids(json.dumps(["x", "y", "x"])) == ["x", "y"]
    assert normalise_request_ids(json.dumps({"request_ids": ["z"]})) == ["z"]


def test_python_repr_text_from_non_native_template_rendering():
    assert normalise_request_ids(str({"request_ids": ["p", "q"], "dry_run": False})) == ["p", "q"]
    assert normalise_request_ids("['p', 'q']") == ["p", "q"]


def test_single_id_and_comma_separated_text():
    assert normalise_request_ids(" 990c99a7-5cba-42e8-8f36-aec3419186ef ") == [
        "990c99a7-5cba-42e8-8f36-aec3419186ef"
    ]
    assert normalise_request_ids("a, b ,a") == ["a", "b"]


def test_integers_become_strings():
    assert normalise_request_ids([1, "1", 2]) == ["1", "2"]


@pytest.mark.parametrize("empty", [[], (), "", "[]", {"request_ids": []}, "  "])
def test_empty_inputs_give_no_ids(empty):
    assert normalise_request_ids(empty) == []


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (None, "returned nothing"),
        ({"records_sent": 1}, "without a 'request_ids' key"),
        ("[not json", "not valid JSON"),
        ("two words", "neither"),
        (["ok", ""], "empty id"),
        ([True], "must be a list"),
        (3.5, "must be a list"),
        ({"request_ids": None}, "returned nothing"),
    ],
)
def test_bad_inputs_raise_config_errors(value, needle):
    with pytest.raises(DripConfigError, match=needle):
        normalise_request_ids(value)


def test_lazy_sequence_like_iterables_are_accepted():
    assert normalise_request_ids(iter(["a", "b"])) == ["a", "b"]
    assert normalise_request_ids(x for x in ["c", "c"]) == ["c"]


def test_batches_come_from_an_operator_summary_and_plain_lists_are_one_batch():
    from airflow_provider_drip.sensors.request_ids import normalise_request_id_batches

    summary = {"request_ids": ["a", "b", "c"], "request_id_batches": [2, 1]}
    assert normalise_request_id_batches(summary) == ([["a", "b"], ["c"]], True)
    mapped = [summary, {"request_ids": ["d"], "request_id_batches": [1]}]
    assert normalise_request_id_batches(mapped) == ([["a", "b"], ["c"], ["d"]], True)
    assert normalise_request_id_batches(["a", "b"]) == ([["a", "b"]], False)
    assert normalise_request_id_batches(str(summary)) == ([["a", "b"], ["c"]], True)


def test_batches_that_do_not_add_up_are_refused():
    import pytest

    from airflow_provider_drip.exceptions import DripConfigError
    from airflow_provider_drip.sensors.request_ids import normalise_request_id_batches

    with pytest.raises(DripConfigError, match="does not add up"):
        normalise_request_id_batches({"request_ids": ["a"], "request_id_batches": [2]})
