"""v3 request ids are processed by the emulator's clock, not by how often they are polled, and
every status check counts against the non-batch budget (3,600/hour)."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_drip.emulator.__main__ import build_parser, config_from_args
from airflow_provider_drip.emulator.processing import DONE, PROCESSING, QUEUED, clock_stage
from airflow_provider_drip.resources import RESOURCES

pytestmark = pytest.mark.integration

CART = {
    "provider": "my_store", "email": "a@example.com", "action": "created", "cart_id": "c1",
    "cart_url": "https://shop.example.com/cart/c1",
}  # fmt: skip
FAIL = "__drip_fail__"


def send_carts(emu, count: int, fail: tuple[int, ...] = ()) -> list[str]:
    carts = [
        {**CART, "cart_id": f"c{i}", **({"cart_public_id": f"#{FAIL}"} if i in fail else {})}
        for i in range(count)
    ]
    response = requests.post(
        emu.batch_url("cart"), json=RESOURCES["cart"].envelope(carts), headers=emu.headers()
    )
    assert response.status_code == 202, response.text
    return response.json()["request_ids"]


def check(emu, request_id: str) -> requests.Response:
    url = f"{emu.url}/v3/{emu.account_id}/shopper_activity/requests/{request_id}"
    return requests.get(url, headers=emu.headers(), timeout=10)


def statuses(emu, ids: list[str]) -> list[str]:
    return [check(emu, i).json()["status"] for i in ids]


def test_clock_stage_walks_a_batch_in_order():
    # delay 10 s, 2 s per record: id 0 done at 12 s, id 1 at 14 s, id 2 at 16 s
    at = {age: [clock_stage(age, i, 10, 2) for i in range(3)] for age in (0, 9.9, 10, 12, 14, 16)}
    assert at == {
        0: [QUEUED] * 3,
        9.9: [QUEUED] * 3,
        10: [PROCESSING] * 3,
        12: [DONE, PROCESSING, PROCESSING],
        14: [DONE, DONE, PROCESSING],
        16: [DONE] * 3,
    }
    assert clock_stage(0, 999, 0, 0) == DONE  # zero delay: immediate, as tests rely on


def test_polling_does_not_advance_processing_only_time_does(drip_emulator):
    emu = drip_emulator
    emu.control.configure(processing_delay=30, seconds_per_record=10, rate_limit=0)
    ids = send_carts(emu, 3, fail=(2,))
    for _ in range(20):  # however often it is polled, the batch stays in the queue
        assert statuses(emu, ids) == ["queued"] * 3
    emu.control.advance_clock(30)
    assert statuses(emu, ids) == ["processing"] * 3
    emu.control.advance_clock(10)
    assert statuses(emu, ids) == ["completed", "processing", "processing"]
    emu.control.advance_clock(10)
    assert statuses(emu, ids) == ["completed", "completed", "processing"]
    emu.control.advance_clock(10)
    failed = check(emu, ids[2]).json()
    assert failed["status"] == "failed"
    assert failed["errors"][0]["attribute"] == "cart_public_id"
    assert statuses(emu, ids[:2]) == ["completed", "completed"]


def test_an_id_never_polled_is_done_at_its_first_check(drip_emulator):
    emu = drip_emulator
    emu.control.configure(processing_delay=60, rate_limit=0)
    first = send_carts(emu, 2)
    emu.control.advance_clock(45)
    second = send_carts(emu, 2)  # accepted 45 s later: its own 60 s start now
    emu.control.advance_clock(15)
    assert statuses(emu, first + second) == ["completed", "completed", "queued", "queued"]
    emu.control.advance_clock(45)
    assert statuses(emu, second) == ["completed", "completed"]


def test_changing_the_delay_applies_to_ids_already_issued(drip_emulator):
    """Tests can hold Drip's queue (a long delay), then release it (delay 0)."""
    emu = drip_emulator
    emu.control.configure(processing_delay=3600)
    ids = send_carts(emu, 2)
    assert statuses(emu, ids) == ["queued", "queued"]
    emu.control.configure(processing_delay=0)
    assert statuses(emu, ids) == ["completed", "completed"]


def test_legacy_status_polls_and_the_clock_both_hold(drip_emulator):
    emu = drip_emulator
    emu.control.configure(status_polls=1, processing_delay=5)
    (request_id,) = send_carts(emu, 1)
    assert statuses(emu, [request_id] * 3) == ["queued"] * 3  # polls are past the gate, time not
    emu.control.advance_clock(5)
    assert statuses(emu, [request_id]) == ["completed"]
    emu.control.configure(status_polls=2, processing_delay=0)
    (fresh,) = send_carts(emu, 1)
    assert statuses(emu, [fresh] * 3) == ["queued", "processing", "completed"]


def test_status_seconds_is_an_alias_of_processing_delay(drip_emulator):
    assert drip_emulator.control.configure(status_seconds=7)["processing_delay"] == 7
    args = build_parser().parse_args(["--status-seconds", "12", "--seconds-per-record", "0.5"])
    config = config_from_args(args)
    assert (config.processing_delay, config.seconds_per_record) == (12, 0.5)
    assert config_from_args(build_parser().parse_args([])).processing_delay == 0


def test_status_checks_count_against_the_non_batch_budget(drip_emulator):
    emu = drip_emulator
    emu.control.configure(read_rate_limit=3)
    (request_id,) = send_carts(emu, 1)
    answers = [check(emu, request_id) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["3"] * 3
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    refused = check(emu, request_id)
    assert refused.status_code == 429
    assert refused.json()["message"] == "API rate limit exceeded. Please try again in an hour."
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    reads = requests.get(f"{emu.url}/v2/accounts", headers=emu.headers(), timeout=10)
    assert reads.status_code == 429  # one budget for every non-batch call
    assert requests.get(f"{emu.url}/v2/accounts", timeout=10).status_code == 401  # not counted
    batch = send_carts(emu, 1)  # batches have their own budget (50/hour)
    assert len(batch) == 1
    stats = emu.control.stats()
    assert stats["read_rate_limit"]["remaining"] == 0
    assert stats["rate_limit"]["remaining"] == 48
    emu.control.advance_clock(3600)
    assert check(emu, request_id).headers["X-RateLimit-Remaining"] == "2"


def test_default_non_batch_budget_is_drips_3600(drip_emulator):
    (request_id,) = send_carts(drip_emulator, 1)
    answer = check(drip_emulator, request_id)
    assert answer.headers["X-RateLimit-Limit"] == "3600"
    assert answer.headers["X-RateLimit-Remaining"] == "3599"
    drip_emulator.control.configure(read_rate_limit=0)
    assert "X-RateLimit-Limit" not in check(drip_emulator, request_id).headers


def test_advancing_the_clock_reopens_the_batch_window(drip_emulator):
    emu = drip_emulator
    emu.control.configure(rate_limit=1)
    send_carts(emu, 1)
    with pytest.raises(AssertionError):
        send_carts(emu, 1)  # 429
    assert emu.control.advance_clock(3600) == 3600
    assert len(send_carts(emu, 1)) == 1


def test_the_clock_only_moves_forward(drip_emulator):
    with pytest.raises(ValueError, match="only moves forward"):
        drip_emulator.control.advance_clock(-1)
    with pytest.raises(ValueError):
        drip_emulator.control.advance_clock("soon")  # type: ignore[arg-type]
    drip_emulator.control.advance_clock(5)
    drip_emulator.control.reset()
    assert drip_emulator.control.advance_clock(0) == 0  # reset restores the real clock
