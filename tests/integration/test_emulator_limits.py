"""Rate limiting, fault injection, asynchronous request status and duplicate accounting."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_drip.resources import RESOURCES

pytestmark = pytest.mark.integration

CART = {
    "provider": "my_store", "email": "a@example.com", "action": "created", "cart_id": "c1",
    "cart_url": "https://shop.example.com/cart/c1",
}  # fmt: skip
RATE_LIMIT_BODY = {
    "message": "API rate limit exceeded. Please try again in an hour.",
    "documentation": "https://www.getdrip.com/docs/rest-api#rate-limting",
}


def send(emu, records=None, resource="subscribers", session=None):
    records = records if records is not None else [{"email": "a@example.com"}]
    return (session or requests).post(
        emu.batch_url(resource),
        json=RESOURCES[resource].envelope(records),
        headers=emu.headers(),
        timeout=10,
    )


def test_rate_limit_window_headers_and_429(drip_emulator):
    emu = drip_emulator
    emu.control.configure(rate_limit=3, rate_window=1.5)
    remaining = [send(emu).headers["X-RateLimit-Remaining"] for _ in range(2)]
    assert send(emu, [{"email": "bad"}]).status_code == 422  # a 422 costs a request too
    assert remaining == ["2", "1"]
    refused = send(emu)
    assert refused.status_code == 429
    assert refused.json() == RATE_LIMIT_BODY
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    for _ in range(3):  # 429s cost nothing, and the window does not move
        assert send(emu).status_code == 429
    stats = emu.control.stats()
    assert stats["errors"]["429"] == 4 and stats["batch_requests_admitted"] == 3
    time.sleep(float(refused.headers["Retry-After"]) + 0.05)
    fresh = send(emu)
    assert fresh.status_code == 201 and fresh.headers["X-RateLimit-Remaining"] == "2"


def test_window_is_anchored_at_its_first_request(drip_emulator):
    emu = drip_emulator
    emu.control.configure(rate_limit=2, rate_window=1.0)
    time.sleep(0.3)  # idle time before the first request does not shorten the window
    start = time.monotonic()
    assert send(emu).status_code == 201
    assert send(emu).status_code == 201
    assert send(emu).status_code == 429
    while time.monotonic() - start < 0.9:
        assert send(emu).status_code == 429
        time.sleep(0.1)
    time.sleep(max(0.0, 1.05 - (time.monotonic() - start)))
    assert send(emu).status_code == 201


def test_retry_after_can_be_turned_off(drip_emulator):
    emu = drip_emulator
    emu.control.configure(rate_limit=1, retry_after=False)
    assert send(emu).status_code == 201
    refused = send(emu)
    assert refused.status_code == 429 and "Retry-After" not in refused.headers


def test_rate_limit_off_sends_no_headers(drip_emulator):
    emu = drip_emulator
    emu.control.configure(rate_limit=0)
    with requests.Session() as session:
        responses = [send(emu, session=session) for _ in range(60)]
    assert {r.status_code for r in responses} == {201}
    assert "X-RateLimit-Limit" not in responses[-1].headers


def test_faults_by_request_number(drip_emulator):
    emu = drip_emulator
    emu.control.configure(fault_500_requests=[1], fault_503_requests=[3], drop_requests=[4])
    statuses = []
    for i in range(5):
        try:
            statuses.append(send(emu, [{"email": f"u{i}@example.com"}]).status_code)
        except requests.ConnectionError:
            statuses.append("dropped")
    assert statuses == [500, 201, 503, "dropped", 201]
    stats = emu.control.stats()
    stored = [r["email"] for r in emu.control.records("subscribers")]
    assert stored == ["u1@example.com", "u3@example.com", "u4@example.com"]  # dropped = stored
    assert stats["dropped_connections"] == 1 and stats["errors"]["5xx"] == 2


def test_fault_probabilities_are_deterministic_for_a_seed(drip_emulator):
    emu = drip_emulator

    def run():
        emu.control.reset()
        emu.control.configure(rate_limit=0, seed=7, fault_500_rate=0.2, fault_503_rate=0.2,
                              drop_rate=0.2)  # fmt: skip
        outcome = []
        for _ in range(25):
            try:
                outcome.append(send(emu).status_code)
            except requests.ConnectionError:
                outcome.append("dropped")
        return outcome

    first = run()
    assert first == run()
    assert {500, 503, 201, "dropped"} <= set(first)
    emu.control.configure(seed=8)  # a new seed re-seeds the injector


def test_latency(drip_emulator):
    drip_emulator.control.configure(latency=0.25)
    start = time.monotonic()
    assert send(drip_emulator).status_code == 201
    assert time.monotonic() - start >= 0.25


def status_url(emu, request_id, account_id=None):
    return f"{emu.url}/v3/{account_id or emu.account_id}/shopper_activity/requests/{request_id}"


def test_request_status_progress_and_failure_marker(drip_emulator):
    """The legacy poll-driven knob: queued on the first poll, processing up to poll 2."""
    emu = drip_emulator
    emu.control.configure(status_polls=2)
    marked = {**CART, "cart_id": "c2", "cart_public_id": "#__drip_fail__"}
    ids = send(emu, [CART, marked], resource="cart").json()["request_ids"]

    def poll(request_id):
        return requests.get(status_url(emu, request_id), headers=emu.headers()).json()

    assert [poll(ids[0])["status"] for _ in range(4)] == [
        "queued", "processing", "completed", "completed"
    ]  # fmt: skip
    states = [poll(ids[1]) for _ in range(3)]
    assert [s["status"] for s in states] == ["queued", "processing", "failed"]
    assert states[-1]["request_id"] == ids[1]
    assert states[-1]["errors"] == [
        {"code": "processing_error", "attribute": "cart_public_id",
         "message": "cart_public_id was rejected while processing the request"}
    ]  # fmt: skip
    assert states[0]["errors"] == []


def test_request_status_unknown_other_account_and_disabled(drip_emulator):
    emu = drip_emulator
    emu.control.configure(status_polls=0)
    request_id = send(emu, [CART], resource="cart").json()["request_ids"][0]
    ok = requests.get(status_url(emu, request_id), headers=emu.headers())
    assert ok.json()["status"] == "completed"
    forged = request_id[:-1] + ("0" if request_id[-1] != "0" else "1")
    for unknown in (forged, "db8a7b16-32dd-4863-8b6e-818e3eaab99a", "nope"):
        missing = requests.get(status_url(emu, unknown), headers=emu.headers())
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["code"] == "not_found_error"
    other = requests.get(status_url(emu, request_id, "1234567"), headers=emu.headers())
    assert other.status_code == 403
    assert requests.get(status_url(emu, request_id)).status_code == 401
    emu.control.configure(status_endpoint=False)
    gone = requests.get(status_url(emu, request_id), headers=emu.headers())
    assert gone.status_code == 404


def test_request_status_by_seconds(drip_emulator):
    """Real time, no clock tricks: queued for the delay, processing for its record, then done."""
    emu = drip_emulator
    emu.control.configure(processing_delay=0.5, seconds_per_record=1.0)
    request_id = send(emu, [CART], resource="cart").json()["request_ids"][0]
    seen = [requests.get(status_url(emu, request_id), headers=emu.headers()).json()["status"]]
    time.sleep(0.8)  # the processing window is [0.5 s, 1.5 s): wide, for a loaded machine
    seen.append(requests.get(status_url(emu, request_id), headers=emu.headers()).json()["status"])
    time.sleep(0.8)
    seen.append(requests.get(status_url(emu, request_id), headers=emu.headers()).json()["status"])
    assert seen == ["queued", "processing", "completed"]


def test_request_ids_survive_many_batches_and_reset_forgets_them(drip_emulator):
    emu = drip_emulator
    emu.control.configure(rate_limit=0, status_polls=0)
    all_ids = []
    for n in (3, 1, 5):
        all_ids += send(emu, [{**CART, "cart_id": str(i)} for i in range(n)], "cart").json()[
            "request_ids"
        ]
    assert len(set(all_ids)) == 9
    for request_id in all_ids:
        got = requests.get(status_url(emu, request_id), headers=emu.headers()).json()
        assert got == {"request_id": request_id, "status": "completed", "errors": []}
    emu.control.reset()
    gone = requests.get(status_url(emu, all_ids[0]), headers=emu.headers())
    assert gone.status_code == 404


def test_duplicates_and_record_cap(drip_emulator):
    emu = drip_emulator
    emu.control.configure(record_cap=3)
    batch = [{"email": f"u{i}@example.com", "tags": ["a", "b"]} for i in range(2)]
    assert send(emu, batch).status_code == 201
    reordered = [{"tags": ["a", "b"], "email": "u1@example.com"}, {"email": "new@example.com"}]
    assert send(emu, reordered).status_code == 201  # key order does not hide a duplicate
    stats = emu.control.stats()["resources"]["subscribers"]
    assert stats["duplicates"] == 1 and stats["unique_records"] == 3
    assert stats["records_accepted"] == 4 and stats["records_stored"] == 3
    assert stats["batch_sizes"] == [2, 2]
    assert len(emu.control.records("subscribers")) == 3
    assert emu.control.records("subscribers", offset=1, limit=1) == [batch[1]]
    assert emu.control.stats()["resources"]["events"]["duplicates"] == 0


def test_concurrent_clients_are_counted_exactly(drip_emulator):
    from concurrent.futures import ThreadPoolExecutor

    emu = drip_emulator
    emu.control.configure(rate_limit=30, rate_window=60)

    def client(worker):
        with requests.Session() as session:
            return [
                send(
                    emu,
                    [{**CART, "cart_id": f"{worker}-{n}-{i}"} for i in range(50)],
                    resource="cart",
                    session=session,
                )
                for n in range(5)
            ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = [r for batch in pool.map(client, range(8)) for r in batch]
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] * 30 + [429] * 10
    ids = [i for r in responses if r.status_code == 202 for i in r.json()["request_ids"]]
    assert len(ids) == len(set(ids)) == 1500
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses)
    assert remaining[10:] == list(range(30))  # each admitted request saw its own count
    stats = emu.control.stats()["resources"]["cart"]
    assert stats["records_accepted"] == 1500 and stats["duplicates"] == 0
