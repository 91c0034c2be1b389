"""The throughput table's statistic: ratios within each round, median over the rounds."""

from __future__ import annotations

import pytest

from bench.throughput import report


def _measured(samples: dict[str, list[float]]) -> dict[str, object]:
    return {"samples": samples, "notes": dict.fromkeys(samples, "")}


def test_ratios_are_paired_by_round_and_summarised_by_their_median() -> None:
    samples = {
        "ceiling": [2.0, 3.0, 1.0],  # round 3: a fast spell for the ceiling only
        "naive jsonl": [6.0, 9.0, 6.0],
        "provider jsonl (on_invalid=fail, default)": [4.0, 5.0, 3.0],
        "naive csv": [8.0, 8.0, 8.0],
        "provider csv (on_invalid=skip)": [4.0, 6.0, 8.0],
    }
    out = report(1000, _measured(samples))
    rows = {r["case"]: r for r in out["results"]}  # type: ignore[index]

    fail = rows["provider jsonl (on_invalid=fail, default)"]
    assert fail["vs_ceiling_by_round"] == pytest.approx([0.5, 0.6, 0.333], abs=1e-3)
    assert fail["vs_naive_by_round"] == pytest.approx([1.5, 1.8, 2.0])
    assert (fail["vs_naive"], fail["vs_ceiling"]) == (1.8, 0.5)
    assert fail["rounds_meeting_targets"] == 2 and fail["meets_targets"] is True
    # Best-of-rounds would compare the ceiling's lucky 1.0 s with fail's best 3.0 s.
    assert fail["best_of_rounds"] == {"vs_naive": 2.0, "vs_ceiling": 0.333}

    csv = rows["provider csv (on_invalid=skip)"]  # CSV rows are compared with the naive CSV
    assert csv["vs_naive_by_round"] == pytest.approx([2.0, 1.333, 1.0], abs=1e-3)
    assert csv["vs_naive"] == 1.333 and csv["meets_targets"] is False
    assert csv["rounds_meeting_targets"] == 1

    assert rows["ceiling"]["meets_targets"] is None  # baselines are not judged
    assert out["max_gain_over_naive"] == 3.0
    assert "| provider csv (on_invalid=skip)" in out["table_markdown"]  # type: ignore[operator]
